#pragma once
// The processor's one owner of its store connection, on a thread of its own: it commits the
// events the processor hands it in group commits (everything queued goes into one
// transaction, so a slow fsync makes the next batch bigger rather than the queue longer),
// reads the log after its position and hands the events back, saves the checkpoint and
// renews the lease. The processor's event loop never blocks on the database.
//
// Fencing: every commit is conditional on the lease still being held at the epoch it was
// taken with (EventStore::append_batch_fenced). A commit refused for that, or a renewal that
// finds another holder, is fatal: the worker appends nothing more and stops. Between
// renewals, lease_held() says whether the lease is known to be held right now (renewed less
// than a TTL ago), so that the processor sends no call while it may have lost it.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/store/event_store.hpp"
#include "repeated_warning.hpp"

namespace api_broker::broker {

struct StoreWorkerOptions {
  std::string lease_name = "processor";
  std::string lease_owner;
  std::uint64_t lease_epoch = 0;  // the epoch the lease was taken at
  // When the call that took the lease was sent: it is held until this + lease_ttl at least.
  std::chrono::steady_clock::time_point lease_taken_at{};
  std::chrono::milliseconds lease_ttl{3000};
  std::string checkpoint_name = "processor";
  std::chrono::milliseconds checkpoint_interval{200};
};

struct StoreWorkerCallbacks {
  // Events read after the position, in id order. `caught_up`: the read reached the end of
  // the log (the batch may then be empty: a full batch ended exactly there). The worker reads no
  // further until ack() is called. Runs on the worker thread.
  std::function<void(std::vector<events::Envelope> batch, bool caught_up)> on_events;
  // The request events asked for with load(): `asked` the ids, `loaded` those that could be
  // read, in the same order (the others are reported through on_warning). Runs on the
  // worker thread.
  std::function<void(std::vector<events::EventId> asked, std::vector<events::Envelope> loaded)>
      on_loaded;
  // The worker cannot go on: its lease was taken over (Errc::fenced). It has stopped
  // appending. Runs on the worker thread.
  std::function<void(const Error& error)> on_fatal;
  // The lease was renewed: lease_held() is true again. Runs on the worker thread; optional.
  std::function<void()> on_lease_renewed;
  // A line for the log (store failures it retries). Runs on the worker thread.
  std::function<void(const std::string& line)> on_warning;
};

class StoreWorker {
 public:
  // Takes the store over; the thread starts at once. REQUIRES: the lease is held by
  // options.lease_owner.
  StoreWorker(std::unique_ptr<store::EventStore> store, events::EventId position,
              StoreWorkerOptions options, StoreWorkerCallbacks callbacks);
  ~StoreWorker();  // stop() and join()
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Thread-safe. Queues events for the next group commit; never blocks on the database.
  void append(std::vector<events::NewEvent> events);
  // Thread-safe. The value to save as the checkpoint (saved at most every interval).
  void set_checkpoint(std::string value);
  // Thread-safe. The last batch handed to on_events is processed: read on.
  void ack();
  // Thread-safe. Reads these events (requests the processor parked) and hands them to
  // on_loaded.
  void load(std::vector<events::EventId> ids);
  // Thread-safe. Commits what is queued, saves the checkpoint, gives the lease up and ends
  // the thread. Further appends are dropped.
  void stop();
  void join();

  // Thread-safe. Events queued and not yet committed.
  std::size_t queued() const;
  // Thread-safe. The lease is known to be held now: renewed (or taken) less than its TTL
  // ago, by the steady clock, and never found lost.
  bool lease_held() const;

 private:
  void run();
  bool commit(std::vector<events::NewEvent>& batch);
  Result<bool> committed_meanwhile(const events::NewEvent& first);
  Result<std::vector<events::EventId>> append_fenced(std::span<const events::NewEvent> batch);
  void maybe_save_checkpoint(bool force);
  bool renew_lease();
  void lose_lease(Error error);
  void load_parked(std::vector<events::EventId>& to_load);
  // Waits `delay` unless stop() is called; wake-ups from append() or ack() do not cut it short,
  // so a store that is down is retried at the pace of the backoff. False when stopping.
  bool pause(std::chrono::milliseconds delay);
  bool stopping() const;

  std::unique_ptr<store::EventStore> store_;
  events::EventId position_;
  StoreWorkerOptions options_;
  StoreWorkerCallbacks callbacks_;

  mutable std::mutex mutex_;
  std::vector<events::NewEvent> queue_;
  std::string checkpoint_;
  bool checkpoint_dirty_ = false;
  std::vector<events::EventId> to_load_;
  bool awaiting_ack_ = false;
  bool caught_up_told_ = false;  // the last batch handed over was flagged caught_up
  bool stopping_ = false;
  StopSignal wake_;  // raised by append/ack/stop

  std::string checkpoint_saved_;
  std::chrono::steady_clock::time_point checkpoint_saved_at_{};
  std::chrono::steady_clock::time_point lease_renewed_at_{};
  // lease_held(): steady-clock nanoseconds until which the lease is surely held (0: lost).
  std::atomic<std::int64_t> lease_held_until_{0};
  bool lease_lost_ = false;  // worker thread only
  store::Fence fence_;
  RepeatedWarning commit_failing_, check_failing_, read_failing_, lease_failing_,
      checkpoint_failing_, load_failing_;
  std::thread thread_;
};

}  // namespace api_broker::broker
