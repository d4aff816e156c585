// The simulated processor under its lease: a holder paused past its TTL and replaced finds
// out it lost the lease when it resumes and neither calls the API nor appends; one that
// nobody replaced goes on where it was.

#include "simulated_processor.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "api_broker/http/url.hpp"

namespace api_broker::sim {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};

class SimulatedProcessorLease : public ::testing::Test {
 public:
  SimulatedProcessorLease()
      : log_(std::make_shared<spdlog::logger>("sim",
                                              std::make_shared<spdlog::sinks::null_sink_st>())),
        memory_(std::make_shared<store::MemoryLog>()),
        store_(memory_),
        api_(scheduler_, Random(7), ApiProfile{.latency_low = 10ms, .latency_high = 10ms}) {
    memory_->clock = [this] { return scheduler_.now(); };
    options_.api = *http::parse_url("http://api.invalid");
    faults_.latency_low = 1ms;
    faults_.latency_high = 1ms;
  }

  std::shared_ptr<SimulatedProcessor> boot(std::string owner) {
    auto processor = std::make_shared<SimulatedProcessor>(
        scheduler_, api_, store_, Random(1), faults_, options_, log_, stats_,
        SimulatedLease{std::move(owner), ttl_}, LeaseHooks{});
    EXPECT_TRUE(processor->start().has_value());
    return processor;
  }
  void insert_request_at(TimePoint at, SimulatedProcessor& processor) {
    scheduler_.at(at, [this, &processor] {
      ASSERT_TRUE(store_.append(events::NewEvent{.event = events::Request{"ping"}}).has_value());
      processor.appended_elsewhere();
    });
  }
  void run_until(TimePoint end) {
    while (!scheduler_.empty() && scheduler_.now() <= end && scheduler_.run_next()) {
    }
  }
  std::size_t events() const { return memory_->events.size(); }

  Scheduler scheduler_{t0};
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<store::MemoryLog> memory_;
  store::MemoryStore store_;
  SimulatedApi api_;
  StoreFaults faults_;
  broker::ProcessorOptions options_;
  SimulatedProcessorStats stats_;
  const Duration ttl_ = 1s;
};

// With a store latency of exactly 1 ms, a request inserted at t0 + 100 ms is read at 101 ms,
// its api-request committed at 102 ms, the checkpoint saved at 103 ms, and the api-request read
// back at 104 ms and sent (one store call per step of the store worker).
void replaced_while_paused(SimulatedProcessorLease& test, TimePoint pause_at,
                           std::size_t events_expected) {
  // given: "old" holds the lease (TTL 1 s), a request comes, and "old" is paused at
  // `pause_at` for 5 s
  const auto old = test.boot("old");
  ASSERT_TRUE(old->started());
  test.insert_request_at(t0 + 100ms, *old);
  test.scheduler_.at(pause_at, [&] { old->pause(pause_at + 5s); });
  // when: another processor takes the expired lease during the pause
  std::optional<store::LeaseHolder> successor;
  test.scheduler_.at(t0 + 3s, [&] {
    auto taken = test.store_.acquire_lease("processor", "new", 10s);
    ASSERT_TRUE(taken.has_value());
    successor = *taken;
  });
  test.run_until(t0 + 10s);
  // then: the lease changed hands; "old" found out, sent nothing, and appended nothing more
  ASSERT_TRUE(successor.has_value());
  EXPECT_EQ(successor->owner, "new");
  EXPECT_EQ(successor->epoch, 2u);
  EXPECT_TRUE(old->lost());
  EXPECT_EQ(test.stats_.lost_fenced + test.stats_.lost_renewing, 1u);
  EXPECT_TRUE(test.api_.calls().empty());
  EXPECT_EQ(test.events(), events_expected);
}

TEST_F(SimulatedProcessorLease, PausedWhileCommittingItsCommitIsFencedAfterATakeover) {
  replaced_while_paused(*this, t0 + 101500us, 1);  // the request only
  EXPECT_EQ(stats_.lost_fenced, 1u);
}

// A commit that succeeds but reports a failure is checked after a 10 ms back-off (112 ms), the
// checkpoint saved (113 ms), and only then read back (114 ms): a pause in between leaves the
// api-request committed and not sent. On resuming, the read-back step (decided before the
// pause) comes before the renewal: only lease_held() stops the call.
TEST_F(SimulatedProcessorLease, PausedBeforeReadingBackAnAttemptItDoesNotSendItAfterATakeover) {
  faults_.commit_unacknowledged = 1.0;
  replaced_while_paused(*this, t0 + 113500us, 2);  // the request and its api-request
  EXPECT_EQ(stats_.lost_renewing, 1u);
  EXPECT_GE(stats_.held_back, 1u);
}

TEST_F(SimulatedProcessorLease, NotReplacedItGoesOnWhereItWasOnceRenewed) {
  // given: "old" holds the lease, and is paused for 5 s at t0 + 100 ms; nobody takes over
  const auto old = boot("old");
  scheduler_.at(t0 + 100ms, [&] { old->pause(t0 + 5100ms); });
  // when: a request comes during the pause
  insert_request_at(t0 + 1s, *old);
  run_until(t0 + 10s);
  // then: it is handled once, after the pause and after a renewal
  EXPECT_FALSE(old->lost());
  ASSERT_EQ(api_.calls().size(), 1u);
  EXPECT_GE(api_.calls().front().at, t0 + 5100ms);
  ASSERT_FALSE(memory_->events.empty());
  EXPECT_TRUE(std::holds_alternative<events::RequestSucceeded>(memory_->events.back().event));
}

TEST_F(SimulatedProcessorLease, AStandbyWaitsForTheLeaseAndTakesItOnceTheHolderStopsRenewing) {
  // given: "old" holds the lease; "new" starts as its standby
  const auto old = boot("old");
  const auto standby = boot("new");
  EXPECT_FALSE(standby->started());
  run_until(t0 + 3s);
  EXPECT_FALSE(standby->started());  // "old" renews every ttl/3
  // when: "old" is paused past its TTL
  old->pause(t0 + 10s);
  run_until(t0 + 5s);
  // then: "new" took the lease within a TTL and a poll, and acts
  EXPECT_TRUE(standby->started());
  insert_request_at(t0 + 5s, *standby);
  run_until(t0 + 6s);
  EXPECT_EQ(api_.calls().size(), 1u);
}

}  // namespace
}  // namespace api_broker::sim
