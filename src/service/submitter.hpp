#pragma once
// The group commit of HTTP submissions: one thread owns a store connection and appends, in one
// append_batch (one transaction, one flush), every submission waiting when it gets to them; a
// submission is answered only after the transaction that holds it committed. A submission
// whose external UUID is already stored (or stands earlier in the same batch) does not fail the
// others: it is answered with the event that holds the UUID.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api_broker/broker/processor.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"

namespace api_broker::service {

// What became of one event of a submission.
struct Appended {
  events::EventId id{};  // its id, or the id of the event that already holds its UUID
  // Set when the UUID was stored already (or earlier in the batch): that event, to compare.
  std::optional<events::Event> existing;
  std::optional<Error> error;  // the store failed: nothing of this event was written
};

// One group commit: its size and how long it took, for metrics.
struct CommitReport {
  std::size_t events = 0;
  std::chrono::microseconds latency{};
};

class Submitter {
 public:
  using Done = std::function<void(std::vector<Appended>)>;

  // Opens its own store connection (Errc from the opener).
  static Result<std::unique_ptr<Submitter>> start(
      const broker::StoreOpener& open_store, std::function<void(const CommitReport&)> on_commit);
  ~Submitter();
  Submitter(const Submitter&) = delete;
  Submitter& operator=(const Submitter&) = delete;

  // Queues `events` (appended together, in order) and calls `done` on the submitter's thread
  // once they are committed, or failed. Errc::unavailable at once (done is not called) when
  // the queue is full or the submitter is stopping.
  Result<void> submit(std::vector<events::NewEvent> events, Done done);
  // Answers what is queued, then ends the thread.
  void stop();

 private:
  struct Submission {
    std::vector<events::NewEvent> events;
    Done done;
  };
  Submitter(std::unique_ptr<store::EventStore> store,
            std::function<void(const CommitReport&)> on_commit);
  void run();
  void commit(std::vector<Submission>& batch);

  std::unique_ptr<store::EventStore> store_;  // the thread's own
  const std::function<void(const CommitReport&)> on_commit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Submission> queue_;
  std::size_t queued_events_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace api_broker::service
