// Waiting for a store that cannot be reached, and following on after it comes back: given an
// opener and a store that fail as a database that is down does, then what the follower gets.

#include "api_broker/store/store_wait.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_broker/store/forwarding_store.hpp"
#include "api_broker/store/memory_store.hpp"

namespace api_broker::store {
namespace {

struct MemoryHolder {
  explicit MemoryHolder(std::shared_ptr<MemoryLog> log) : memory(std::move(log)) {}
  MemoryStore memory;
};

// A store on `log` whose reads fail (as after a restart) once `reads_left` reads have passed.
class DroppingStore final : private MemoryHolder, public ForwardingStore {
 public:
  DroppingStore(std::shared_ptr<MemoryLog> log, int reads_left)
      : MemoryHolder(std::move(log)),
        ForwardingStore(MemoryHolder::memory),
        reads_left_(reads_left) {}
  Result<std::vector<events::Envelope>> read_after(events::EventId after,
                                                   std::size_t limit) override {
    if (reads_left_-- <= 0) return fail(Errc::unavailable, "connection lost");
    return memory.read_after(after, limit);
  }

 private:
  int reads_left_;
};

events::NewEvent request(const std::string& body) {
  return events::NewEvent{.event = events::Request{body}};
}

TEST(StoreWait, AFollowerGoesOnAfterTheStoreComesBackWithoutGapOrRepeat) {
  auto log = std::make_shared<MemoryLog>();
  MemoryStore writer(log);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.append(request("before")));
  int opens = 0;
  const Opener open = [&]() -> Result<std::unique_ptr<EventStore>> {
    ++opens;
    if (opens == 2) return fail(Errc::unavailable, "connection refused");  // still down
    // The first store drops the connection after one read; later ones after two.
    return std::unique_ptr<EventStore>(new DroppingStore(log, opens == 1 ? 1 : 2));
  };
  std::vector<std::uint64_t> seen;
  std::vector<std::string> reports;
  StopSignal stop;
  auto done = follow_reconnecting(
      open, events::EventId{}, stop,
      [&](const events::Envelope& envelope) {
        seen.push_back(events::to_int(envelope.id));
        if (seen.size() == 3) {  // appended while the follower is away
          for (int i = 0; i < 2; ++i) (void)writer.append(request("after"));
        }
        return seen.size() < 5;
      },
      [](const Error&) { return true; }, [&](const std::string& line) { reports.push_back(line); });
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_GE(opens, 3);
  ASSERT_GE(reports.size(), 2u);
  EXPECT_NE(reports[0].find("reconnecting"), std::string::npos) << reports[0];
  EXPECT_NE(reports[1].find("waiting for the event store: connection refused"), std::string::npos)
      << reports[1];
}

TEST(StoreWait, AnErrorThatWaitingCannotFixIsReturnedAtOnce) {
  int opens = 0;
  const Opener open = [&]() -> Result<std::unique_ptr<EventStore>> {
    ++opens;
    return fail(Errc::rejected, "password authentication failed");
  };
  StopSignal stop;
  auto opened = open_when_reachable(open, stop, {});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::rejected);
  EXPECT_EQ(opens, 1);
}

TEST(StoreWait, AStopWhileWaitingEndsTheWait) {
  const Opener open = []() -> Result<std::unique_ptr<EventStore>> {
    return fail(Errc::unavailable, "connection refused");
  };
  StopSignal stop;
  std::vector<std::string> reports;
  stop.request_stop();
  auto opened =
      open_when_reachable(open, stop, [&](const std::string& line) { reports.push_back(line); });
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::cancelled);
}

}  // namespace
}  // namespace api_broker::store
