// StoreWorkerCore on a fake clock: given a log, a lease and what the store does, when the
// worker steps at a time the test sets, then what it committed, handed over, saved and
// decided next. The store is a memory store whose calls the test can make fail.

#include "api_broker/broker/store_worker_core.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "api_broker/store/forwarding_store.hpp"
#include "api_broker/store/memory_store.hpp"

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;
using Next = StoreWorkerNext;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};
const SteadyTime s0{std::chrono::hours(1)};

// A memory store whose next calls fail as the test says.
class ScriptedStore final : public store::ForwardingStore {
 public:
  explicit ScriptedStore(std::shared_ptr<store::MemoryLog> log)
      : ForwardingStore(memory_), memory_(std::move(log)) {}

  Result<std::vector<events::EventId>> append_batch_fenced(std::span<const events::NewEvent> batch,
                                                           const store::Fence& fence) override {
    ++commits;
    if (commits_failing > 0) {
      --commits_failing;
      return fail(Errc::unavailable, "connection lost");
    }
    auto ids = inner().append_batch_fenced(batch, fence);
    if (ids && commits_unacknowledged > 0) {
      --commits_unacknowledged;
      return fail(Errc::unavailable, "connection lost after the commit");
    }
    return ids;
  }
  Result<events::Envelope> get(events::EventId id) override {
    if (gets_failing > 0) {
      --gets_failing;
      return fail(Errc::unavailable, "connection lost");
    }
    return inner().get(id);
  }
  Result<std::vector<events::Envelope>> read_after(events::EventId after,
                                                   std::size_t limit) override {
    ++reads;
    if (reads_failing > 0) {
      --reads_failing;
      return fail(Errc::unavailable, "connection lost");
    }
    return inner().read_after(after, limit);
  }
  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    ++saves;
    return inner().save_checkpoint(name, value);
  }
  Result<store::LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                           std::chrono::milliseconds ttl) override {
    if (renewals_failing > 0) {
      --renewals_failing;
      return fail(Errc::unavailable, "connection lost");
    }
    return inner().acquire_lease(name, owner, ttl);
  }

  int commits_failing = 0;
  int commits_unacknowledged = 0;
  int reads_failing = 0;
  int gets_failing = 0;
  int renewals_failing = 0;
  int commits = 0;
  int reads = 0;
  int saves = 0;

 private:
  store::MemoryStore memory_;
};

// The worker "a" holding the lease (TTL 3 s) from s0, over a log the test fills, and what it
// handed over.
class StoreWorkerCoreTest : public ::testing::Test {
 public:
  StoreWorkerCoreTest() : memory_(std::make_shared<store::MemoryLog>()), store_(memory_) {
    memory_->clock = [this] { return t0 + std::chrono::duration_cast<Duration>(elapsed_); };
    other_.emplace(memory_);
  }

  StoreWorkerCore& start(std::size_t read_batch_max = limits::read_batch_max) {
    auto taken = store_.acquire_lease("processor", "a", ttl);
    EXPECT_TRUE(taken && taken->owner == "a");
    worker_.emplace(
        store_, events::EventId{0},
        StoreWorkerOptions{.lease_owner = "a",
                           .lease_epoch = taken->epoch,
                           .lease_taken_at = s0,
                           .lease_ttl = ttl,
                           .read_batch_max = read_batch_max},
        StoreWorkerCallbacks{
            .on_events =
                [this](std::vector<events::Envelope> batch, bool caught_up) {
                  handed.push_back(std::move(batch));
                  caught_up_flags.push_back(caught_up);
                },
            .on_loaded =
                [this](std::vector<events::EventId> asked, std::vector<events::Envelope> loaded) {
                  loaded_asked.push_back(asked);
                  loaded_count += loaded.size();
                },
            .on_fatal = [this](const Error& error) { fatal = error; },
            .on_lease_renewed = [this] { ++renewals; },
            .on_warning = [this](const std::string& line) { warnings.push_back(line); },
        });
    return *worker_;
  }
  // The clock of the worker and of the store, moved on together.
  SteadyTime at(std::chrono::milliseconds since_start) {
    elapsed_ = since_start;
    return s0 + since_start;
  }
  // Steps at `when` until the worker waits (or is done); the last decision.
  Next settle(std::chrono::milliseconds when) {
    for (int i = 0; i < 100; ++i) {
      const Next next = worker_->step(at(when));
      if (next.kind != Next::Kind::go_on) return next;
    }
    ADD_FAILURE() << "the worker did not settle";
    return Next{};
  }
  void insert_request() {
    ASSERT_TRUE(other_->append(events::NewEvent{.event = events::Request{"ping"}}));
  }
  static std::vector<events::NewEvent> decision(std::uint64_t request) {
    std::vector<events::NewEvent> out;
    out.push_back(events::NewEvent{.event = events::ApiRequest{.attempt = 0},
                                   .causation_id = events::EventId{request}});
    return out;
  }
  std::size_t stored() const { return memory_->events.size(); }

  const std::chrono::milliseconds ttl = 3000ms;
  std::chrono::milliseconds elapsed_{0};
  std::shared_ptr<store::MemoryLog> memory_;
  ScriptedStore store_;
  std::optional<store::MemoryStore> other_;  // another writer: clients, another processor
  std::optional<StoreWorkerCore> worker_;

  std::vector<std::vector<events::Envelope>> handed;
  std::vector<bool> caught_up_flags;
  std::vector<std::vector<events::EventId>> loaded_asked;
  std::size_t loaded_count = 0;
  std::optional<Error> fatal;
  int renewals = 0;
  std::vector<std::string> warnings;
};

TEST_F(StoreWorkerCoreTest, AnUncertainCommitFoundInTheLogIsNotAppendedAgain) {
  // given: a request read and acknowledged; the commit of its decision succeeds but reports
  // a failure
  auto& worker = start();
  insert_request();
  settle(0ms);
  worker.ack();
  settle(0ms);
  store_.commits_unacknowledged = 1;
  // when: the decision is appended, and the worker retries after its back-off
  worker.append(decision(1));
  const Next backing_off = settle(1ms);
  EXPECT_EQ(backing_off.kind, Next::Kind::wait);
  EXPECT_EQ(backing_off.wake, Next::Wake::on_stop);
  EXPECT_TRUE(backing_off.busy);
  EXPECT_EQ(backing_off.until, s0 + 11ms);
  EXPECT_EQ(worker.uncommitted(), 1u);
  settle(11ms);
  // then: it found the batch after its position and did not append it again
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(stored(), 2u);
  EXPECT_EQ(worker.uncommitted(), 0u);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("were committed"), std::string::npos) << warnings.back();
}

TEST_F(StoreWorkerCoreTest, AnUncertainCommitNotFoundInTheLogIsAppendedAgain) {
  // given: a request read; the commit of its decision fails without committing
  auto& worker = start();
  insert_request();
  settle(0ms);
  worker.ack();
  store_.commits_failing = 1;
  // when: the decision is appended, and the worker retries after its back-off
  worker.append(decision(1));
  EXPECT_EQ(settle(1ms).until, s0 + 11ms);
  EXPECT_EQ(settle(5ms).until, s0 + 11ms);  // a back-off is not cut short
  settle(11ms);
  // then: it looked, did not find it, and committed it once
  EXPECT_EQ(store_.commits, 2);
  ASSERT_EQ(stored(), 2u);
  EXPECT_TRUE(std::holds_alternative<events::ApiRequest>(memory_->events[1].event));
}

TEST_F(StoreWorkerCoreTest, ACommitThatKeepsFailingBacksOffLongerEachTime) {
  auto& worker = start();
  store_.commits_failing = 3;
  worker.append(decision(1));
  EXPECT_EQ(settle(0ms).until, s0 + 10ms);
  EXPECT_EQ(settle(10ms).until, s0 + 30ms);
  EXPECT_EQ(settle(30ms).until, s0 + 70ms);
  settle(70ms);
  EXPECT_EQ(stored(), 1u);
}

TEST_F(StoreWorkerCoreTest, AFullBatchAtTheEndOfTheLogIsCaughtUpByTheEmptyReadAfterIt) {
  // given: two events, and reads of two at most
  auto& worker = start(2);
  insert_request();
  insert_request();
  // when: the worker reads, is acknowledged, and reads again
  settle(0ms);
  worker.ack();
  const Next idle = settle(0ms);
  // then: the full batch was not caught up; the empty read after it was, and the worker
  // waits for the log to grow
  ASSERT_EQ(handed.size(), 2u);
  EXPECT_EQ(handed[0].size(), 2u);
  EXPECT_FALSE(caught_up_flags[0]);
  EXPECT_TRUE(handed[1].empty());
  EXPECT_TRUE(caught_up_flags[1]);
  worker.ack();
  const Next waiting = settle(0ms);
  EXPECT_EQ(waiting.kind, Next::Kind::wait);
  EXPECT_TRUE(waiting.watch_log);
  EXPECT_FALSE(waiting.busy);
  EXPECT_EQ(handed.size(), 2u);  // an empty read once caught up hands nothing over
  EXPECT_EQ(idle.kind, Next::Kind::wait);
  EXPECT_FALSE(idle.watch_log);  // awaiting the ack
}

TEST_F(StoreWorkerCoreTest, NoFurtherReadUntilTheBatchIsAcknowledged) {
  auto& worker = start(1);
  insert_request();
  insert_request();
  settle(0ms);
  settle(100ms);
  EXPECT_EQ(handed.size(), 1u);
  worker.ack();
  settle(100ms);
  EXPECT_EQ(handed.size(), 2u);
  EXPECT_EQ(worker.position(), events::EventId{2});
}

TEST_F(StoreWorkerCoreTest, TheCheckpointIsSavedAtMostEveryInterval) {
  // given: a checkpoint saved at 0 ms
  auto& worker = start();
  worker.set_checkpoint("one");
  settle(0ms);
  EXPECT_EQ(*store_.load_checkpoint("processor"), "one");
  // when: another comes 50 ms later
  worker.set_checkpoint("two");
  const Next next = settle(50ms);
  // then: it waits for the end of the interval (200 ms), as work pending, and is saved then
  EXPECT_EQ(*store_.load_checkpoint("processor"), "one");
  EXPECT_EQ(next.until, s0 + 200ms);
  EXPECT_TRUE(next.busy);
  settle(200ms);
  EXPECT_EQ(*store_.load_checkpoint("processor"), "two");
  EXPECT_EQ(store_.saves, 2);
  // and the same value is not saved again
  worker.set_checkpoint("two");
  settle(500ms);
  EXPECT_EQ(store_.saves, 2);
}

TEST_F(StoreWorkerCoreTest, TheLeaseIsRenewedEveryThirdOfItsTtlAndHeldForATtlFromTheRenewal) {
  auto& worker = start();
  EXPECT_TRUE(worker.lease_held(at(2999ms)));
  EXPECT_FALSE(worker.lease_held(at(3000ms)));
  settle(999ms);
  EXPECT_EQ(renewals, 0);
  settle(1000ms);
  EXPECT_EQ(renewals, 1);
  EXPECT_TRUE(worker.lease_held(at(3999ms)));
  EXPECT_FALSE(worker.lease_held(at(4000ms)));
}

TEST_F(StoreWorkerCoreTest, ARenewalThatFailsIsTriedAgainSoonAndTheLeaseLapsesMeanwhile) {
  auto& worker = start();
  store_.renewals_failing = 100;
  const Next next = settle(1000ms);
  EXPECT_EQ(next.until, s0 + 1200ms);
  for (auto t = 1200ms; t <= 3000ms; t += 200ms) settle(t);
  EXPECT_FALSE(worker.lease_held(at(3000ms)));
  EXPECT_FALSE(fatal);  // the store is down, not taken over
  store_.renewals_failing = 0;
  settle(3200ms);
  EXPECT_TRUE(worker.lease_held(at(3200ms)));
  EXPECT_EQ(renewals, 1);
}

TEST_F(StoreWorkerCoreTest, ARenewalThatFindsAnotherHolderLosesTheLeaseAndStops) {
  // given: the lease expired (the worker was paused) and "b" took it
  auto& worker = start();
  at(3500ms);
  ASSERT_EQ(other_->acquire_lease("processor", "b", ttl)->owner, "b");
  // when: the worker renews
  worker.append(decision(1));
  const Next next = worker.step(at(3500ms));
  // then: lost, told once, nothing appended, done
  EXPECT_EQ(next.kind, Next::Kind::done);
  ASSERT_TRUE(fatal);
  EXPECT_EQ(fatal->code, Errc::fenced);
  EXPECT_EQ(worker.lease_loss(), LeaseLoss::renewal);
  EXPECT_FALSE(worker.lease_held(at(3500ms)));
  EXPECT_TRUE(worker.done());
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(store_.commits, 0);
}

TEST_F(StoreWorkerCoreTest, ARenewalThatRetookAFreedLeaseGivesItBack) {
  // given: "b" took the expired lease and freed it
  auto& worker = start();
  at(3500ms);
  ASSERT_EQ(other_->acquire_lease("processor", "b", ttl)->owner, "b");
  ASSERT_TRUE(other_->release_lease("processor", "b"));
  // when: the worker renews (and so takes it anew, at another epoch)
  EXPECT_EQ(worker.step(at(3500ms)).kind, Next::Kind::done);
  // then: lost, and free for the next processor
  EXPECT_EQ(worker.lease_loss(), LeaseLoss::renewal);
  EXPECT_EQ(other_->acquire_lease("processor", "c", ttl)->owner, "c");
}

TEST_F(StoreWorkerCoreTest, ACommitFencedByATakeoverStoresNothingAndStops) {
  // given: "b" took the lease over while the worker was not renewing
  auto& worker = start();
  at(3100ms);
  ASSERT_EQ(other_->acquire_lease("processor", "b", ttl)->owner, "b");
  // when: the worker commits before its renewal is due
  worker.append(decision(1));
  EXPECT_EQ(worker.step(at(900ms)).kind, Next::Kind::done);
  // then: nothing stored, lost by the commit, the lease left to "b"
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(worker.lease_loss(), LeaseLoss::fenced_commit);
  ASSERT_TRUE(fatal);
  EXPECT_NE(fatal->message.find("b holds it"), std::string::npos) << fatal->message;
  EXPECT_EQ(other_->acquire_lease("processor", "c", ttl)->owner, "b");
}

TEST_F(StoreWorkerCoreTest, StoppingCommitsWhatIsQueuedSavesTheCheckpointAndFreesTheLease) {
  auto& worker = start();
  worker.append(decision(1));
  worker.set_checkpoint("last");
  worker.stop();
  worker.append(decision(2));  // dropped: stopping
  EXPECT_EQ(settle(10ms).kind, Next::Kind::done);
  EXPECT_EQ(stored(), 1u);
  EXPECT_EQ(*store_.load_checkpoint("processor"), "last");
  EXPECT_EQ(other_->acquire_lease("processor", "b", ttl)->owner, "b");
  EXPECT_FALSE(fatal);
}

TEST_F(StoreWorkerCoreTest, StoppingWhileTheStoreIsDownGivesTheEventsUpAfterAFewTries) {
  auto& worker = start();
  store_.commits_failing = 1000;
  worker.append(decision(1));
  settle(0ms);
  worker.stop();
  EXPECT_EQ(settle(1ms).kind, Next::Kind::done);  // the back-off does not wait at shutdown
  EXPECT_EQ(store_.commits, 8);
  EXPECT_EQ(stored(), 0u);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("not committed at shutdown"), std::string::npos);
}

TEST_F(StoreWorkerCoreTest, ParkedRequestsTheStoreCannotGiveAreAskedAgainLater) {
  auto& worker = start();
  insert_request();
  insert_request();
  store_.gets_failing = 1;
  worker.load({events::EventId{1}, events::EventId{2}, events::EventId{9}});
  settle(0ms);
  // The missing one is given up; the one the store failed to give comes later.
  ASSERT_EQ(loaded_asked.size(), 1u);
  EXPECT_EQ(loaded_asked[0],
            (std::vector<events::EventId>{events::EventId{2}, events::EventId{9}}));
  EXPECT_EQ(loaded_count, 1u);
  worker.ack();
  const Next next = settle(0ms);
  EXPECT_TRUE(next.busy);
  EXPECT_EQ(next.until, s0 + 200ms);  // the poll comes before the retry at 500 ms
  settle(500ms);
  ASSERT_EQ(loaded_asked.size(), 2u);
  EXPECT_EQ(loaded_asked[1], std::vector<events::EventId>{events::EventId{1}});
}

TEST_F(StoreWorkerCoreTest, AFailedReadIsTriedAgainAfterAPauseWhileCommitsGoOn) {
  auto& worker = start();
  insert_request();
  store_.reads_failing = 1;
  settle(0ms);
  EXPECT_TRUE(handed.empty());
  worker.append(decision(1));
  settle(10ms);
  EXPECT_EQ(stored(), 2u);
  EXPECT_TRUE(handed.empty());
  settle(500ms);
  ASSERT_EQ(handed.size(), 1u);
  EXPECT_EQ(handed[0].size(), 2u);
}

}  // namespace
}  // namespace api_broker::broker
