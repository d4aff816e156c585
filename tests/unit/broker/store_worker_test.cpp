// StoreWorker against a store that stalls: while its commit hangs, its lease expires and
// another processor takes it; when the store answers again, nothing of the old holder is
// stored and it stops (issue 15). The store's clock is the test's; waits are bounded only so
// that a bug fails instead of hanging.

#include "store_worker.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "api_broker/store/forwarding_store.hpp"
#include "api_broker/store/memory_store.hpp"

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;

// A memory store whose fenced appends wait while `stalled` (as a database that hangs).
class StallingStore final : public store::ForwardingStore {
 public:
  explicit StallingStore(std::shared_ptr<store::MemoryLog> log)
      : ForwardingStore(memory_), memory_(std::move(log)) {}

  void stall(bool on) {
    {
      std::lock_guard lock(mutex_);
      stalled_ = on;
    }
    changed_.notify_all();
  }
  // Waits until an append is stuck in the stall.
  bool wait_until_stuck() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return stuck_; });
  }

  Result<std::vector<events::EventId>> append_batch_fenced(std::span<const events::NewEvent> batch,
                                                           const store::Fence& fence) override {
    {
      std::unique_lock lock(mutex_);
      stuck_ = stalled_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !stalled_; });
    }
    return inner().append_batch_fenced(batch, fence);
  }

 private:
  store::MemoryStore memory_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stalled_ = false;
  bool stuck_ = false;
};

TEST(StoreWorker, ACommitThatHungPastATakeoverStoresNothingAndStopsTheWorker) {
  auto log = std::make_shared<store::MemoryLog>();
  TimePoint now{std::chrono::seconds(1'800'000'000)};
  log->clock = [&now] { return now; };  // read under the log's mutex
  store::MemoryStore other(log);
  auto stalling = std::make_unique<StallingStore>(log);
  StallingStore& store = *stalling;
  auto taken = store.acquire_lease("processor", "a", 10s);
  ASSERT_TRUE(taken);

  std::promise<Error> fatal;
  StoreWorker worker(std::move(stalling), events::EventId{0},
                     StoreWorkerOptions{.lease_owner = "a",
                                        .lease_epoch = taken->epoch,
                                        .lease_taken_at = std::chrono::steady_clock::now(),
                                        .lease_ttl = 10s},
                     StoreWorkerCallbacks{
                         .on_events = [&](std::vector<events::Envelope>, bool) { worker.ack(); },
                         .on_loaded = [](auto, auto) {},
                         .on_fatal = [&](const Error& error) { fatal.set_value(error); },
                         .on_warning = [](const std::string&) {},
                     });
  EXPECT_TRUE(worker.lease_held());

  store.stall(true);
  std::vector<events::NewEvent> decided;
  decided.push_back(events::NewEvent{.event = events::ApiRequest{.attempt = 0},
                                     .causation_id = events::EventId{1}});
  worker.append(std::move(decided));
  ASSERT_TRUE(store.wait_until_stuck());

  {
    std::lock_guard lock(log->mutex);
    now += 11s;  // the lease expires while the commit hangs...
  }
  auto successor = other.acquire_lease("processor", "b", 10s);  // ...and is taken over
  ASSERT_TRUE(successor);
  ASSERT_EQ(successor->owner, "b");
  EXPECT_EQ(successor->epoch, taken->epoch + 1);

  store.stall(false);
  auto future = fatal.get_future();
  ASSERT_EQ(future.wait_for(60s), std::future_status::ready);
  const Error error = future.get();
  EXPECT_EQ(error.code, Errc::fenced);
  EXPECT_NE(error.message.find("b holds it"), std::string::npos) << error.message;
  EXPECT_FALSE(worker.lease_held());
  worker.join();
  EXPECT_EQ(events::to_int(*other.last_id()), 0u);  // nothing of a's was stored
  // It did not give up b's lease on its way out.
  EXPECT_EQ(other.acquire_lease("processor", "c", 10s)->owner, "b");
}

}  // namespace
}  // namespace api_broker::broker
