#pragma once
// The processor's one owner of its store connection, on a thread of its own: a thin runner of
// StoreWorkerCore (store_worker_core.hpp), which decides what to do with the store (group
// commits, reading the log, the checkpoint, the lease). This class hands it the processor's
// inputs through a mutex, wakes it, reads the steady clock for it and waits as it says. The
// processor's event loop never blocks on the database.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/broker/store_worker_core.hpp"
#include "api_broker/store/event_store.hpp"
#include "api_broker/thread_safety.hpp"

namespace api_broker::broker {

class StoreWorker {
 public:
  // Takes the store over; the thread starts at once. The callbacks run on the worker thread.
  // REQUIRES: the lease is held by options.lease_owner.
  StoreWorker(std::unique_ptr<store::EventStore> store, events::EventId position,
              StoreWorkerOptions options, StoreWorkerCallbacks callbacks);
  ~StoreWorker();  // stop() and join()
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Thread-safe. Queues events for the next group commit; never blocks on the database.
  void append(std::vector<events::NewEvent> events) API_BROKER_EXCLUDES(mutex_);
  // Thread-safe. The value to save as the checkpoint (saved at most every interval).
  void set_checkpoint(std::string value) API_BROKER_EXCLUDES(mutex_);
  // Thread-safe. The last batch handed to on_events is processed: read on.
  void ack() API_BROKER_EXCLUDES(mutex_);
  // Thread-safe. Reads these events (requests the processor parked) and hands them to
  // on_loaded.
  void load(std::vector<events::EventId> ids) API_BROKER_EXCLUDES(mutex_);
  // Thread-safe. Commits what is queued, saves the checkpoint, gives the lease up and ends
  // the thread. Further appends are dropped.
  void stop() API_BROKER_EXCLUDES(mutex_);
  void join();

  // Thread-safe. Events queued and not yet handed to the worker thread.
  std::size_t queued() const API_BROKER_EXCLUDES(mutex_);
  // Thread-safe. The lease is known to be held now: renewed (or taken) less than its TTL
  // ago, by the steady clock, and never found lost.
  bool lease_held() const;

 private:
  // What the other threads handed over since the worker thread last looked.
  struct Inbox {
    std::vector<events::NewEvent> events;
    std::optional<std::string> checkpoint;
    std::vector<events::EventId> to_load;
    bool acked = false;
    bool stopping = false;
  };

  void run();
  void hand_over() API_BROKER_EXCLUDES(mutex_);
  void wait(const StoreWorkerNext& next);
  bool stopping() const API_BROKER_EXCLUDES(mutex_);
  StoreWorkerCallbacks wrap(StoreWorkerCallbacks callbacks);

  std::unique_ptr<store::EventStore> store_;
  // lease_held(): steady-clock nanoseconds until which the lease is surely held (0: lost).
  std::atomic<std::int64_t> lease_held_until_{0};
  StoreWorkerCore core_;  // worker thread only: never under mutex_, never from another thread

  mutable Mutex mutex_;
  Inbox inbox_ API_BROKER_GUARDED_BY(mutex_);
  StopSignal wake_;  // raised by every input
  std::thread thread_;
};

}  // namespace api_broker::broker
