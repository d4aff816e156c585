#pragma once
// The decisions of the processor's store worker, without threads or clocks: what it does next
// with its store (group commit, the retry of a commit whose outcome is unknown, reading the
// log after its position, loading parked requests, saving the checkpoint, renewing the lease)
// given its state and a `now` passed in. Each step() performs at most one of those through the
// EventStore port and says when to step again. The real StoreWorker runs it on a thread of its
// own with the steady clock; the simulator runs it on simulated time over a store that injects
// faults. Not thread-safe: one owner calls everything.
//
// Fencing: every commit is conditional on the lease still being held at the epoch it was
// taken with (EventStore::append_batch_fenced). A commit refused for that, or a renewal that
// finds another holder, is fatal: on_fatal is called, step() appends nothing more and
// answers done. Between renewals, lease_held(now) says whether the lease is known to be held
// (renewed less than a TTL ago), so that the processor sends no call while it may have lost it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api_broker/broker/repeated_warning.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

// The worker's clock: monotonic, read by the runner only.
using SteadyTime = std::chrono::steady_clock::time_point;

struct StoreWorkerOptions {
  std::string lease_name = "processor";
  std::string lease_owner;
  std::uint64_t lease_epoch = 0;  // the epoch the lease was taken at
  // When the call that took the lease was sent: it is held until this + lease_ttl at least.
  SteadyTime lease_taken_at{};
  std::chrono::milliseconds lease_ttl{3000};
  std::string checkpoint_name = "processor";
  std::chrono::milliseconds checkpoint_interval{200};
  std::size_t read_batch_max = limits::read_batch_max;  // events per read of the log
};

// What the worker tells its owner. With StoreWorkerCore, each is called last in a step(), so
// that it may call the core's inputs (append, ack, ...) at once.
struct StoreWorkerCallbacks {
  // Events read after the position, in id order. `caught_up`: the read reached the end of
  // the log (the batch may then be empty: a full batch ended exactly there). The worker reads
  // no further until ack() is called.
  std::function<void(std::vector<events::Envelope> batch, bool caught_up)> on_events;
  // The request events asked for with load(): `asked` the ids, `loaded` those that could be
  // read, in the same order (the others are reported through on_warning).
  std::function<void(std::vector<events::EventId> asked, std::vector<events::Envelope> loaded)>
      on_loaded;
  // The worker cannot go on: its lease was taken over (Errc::fenced). It has stopped
  // appending.
  std::function<void(const Error& error)> on_fatal;
  // The lease was renewed: lease_held() is true again. Optional.
  std::function<void()> on_lease_renewed;
  // A line for the log (store failures it retries).
  std::function<void(const std::string& line)> on_warning;
};

// When the worker steps again.
struct StoreWorkerNext {
  enum class Kind : std::uint8_t {
    go_on,  // at once (it just used the store: a simulated one charges a latency)
    wait,   // at `until`, or earlier as `wake` says
    done,   // never: stopped, or the lease was lost
  };
  enum class Wake : std::uint8_t {
    on_input,  // append, ack, load, set_checkpoint or stop cut the wait short...
    on_stop,   // ...only stop does (a back-off: a store that is down is retried at its pace)
  };
  Kind kind = Kind::go_on;
  SteadyTime until{};
  Wake wake = Wake::on_input;
  // wait: an append to the log by anyone cuts it short too (EventStore::wait_for_append after
  // position()).
  bool watch_log = false;
  // wait: work is pending at `until` (a retry, a checkpoint to save); otherwise it only polls.
  bool busy = false;
};

// How the lease was found lost.
enum class LeaseLoss : std::uint8_t { none, fenced_commit, renewal };

class StoreWorkerCore {
 public:
  // REQUIRES: the lease is held by options.lease_owner at options.lease_epoch. `store` outlives
  // this object.
  StoreWorkerCore(store::EventStore& store, events::EventId position, StoreWorkerOptions options,
                  StoreWorkerCallbacks callbacks);

  // Inputs. Queues events for the next group commit; dropped once stopping.
  void append(std::vector<events::NewEvent> events);
  // The value to save as the checkpoint (saved at most every interval).
  void set_checkpoint(std::string value);
  // The last batch handed to on_events is processed: read on.
  void ack();
  // Reads these events (requests the processor parked) and hands them to on_loaded.
  void load(std::vector<events::EventId> ids);
  // Commits what is queued, saves the checkpoint, gives the lease up and closes the store;
  // then step() answers done.
  void stop();

  // Does the next thing due at `now`. REQUIRES: not done yet; `now` never goes back.
  StoreWorkerNext step(SteadyTime now);

  // The lease is known to be held at `now`: renewed (or taken) less than its TTL before, and
  // never found lost.
  [[nodiscard]] bool lease_held(SteadyTime now) const {
    return loss_ == LeaseLoss::none && now < held_until_;
  }
  // Until when it is known to be held (the epoch of SteadyTime once lost).
  [[nodiscard]] SteadyTime lease_held_until() const { return held_until_; }
  [[nodiscard]] LeaseLoss lease_loss() const { return loss_; }
  [[nodiscard]] bool done() const { return done_; }
  // The last event read (handed to on_events, or skipped as corrupt).
  [[nodiscard]] events::EventId position() const { return position_; }
  // Events appended and not yet committed.
  [[nodiscard]] std::size_t uncommitted() const {
    return queue_.size() + (batch_.size() - batch_done_);
  }

 private:
  StoreWorkerNext step_commit(SteadyTime now);
  StoreWorkerNext commit_chunk(SteadyTime now, std::size_t count);
  StoreWorkerNext commit_one_by_one(std::size_t count);
  StoreWorkerNext back_off(SteadyTime now);
  StoreWorkerNext give_up();
  StoreWorkerNext chunk_done(std::size_t count);
  Result<bool> committed_meanwhile(const events::NewEvent& first);
  Result<std::vector<events::EventId>> append_fenced(std::span<const events::NewEvent> batch);
  StoreWorkerNext lose_lease(Error error, LeaseLoss how);
  StoreWorkerNext renew(SteadyTime now);
  [[nodiscard]] bool checkpoint_due(SteadyTime now) const;
  void save_checkpoint(SteadyTime now);
  StoreWorkerNext load_parked(SteadyTime now);
  StoreWorkerNext read(SteadyTime now);
  StoreWorkerNext finish(SteadyTime now);
  [[nodiscard]] StoreWorkerNext wait(SteadyTime now) const;
  [[nodiscard]] bool may_read(SteadyTime now) const;

  store::EventStore& store_;
  events::EventId position_;
  StoreWorkerOptions options_;
  StoreWorkerCallbacks callbacks_;
  store::Fence fence_;

  // Inputs.
  std::vector<events::NewEvent> queue_;
  std::string checkpoint_;
  std::vector<events::EventId> to_load_;
  bool awaiting_ack_ = false;
  bool stopping_ = false;

  // The group commit under way: batch_[batch_done_..] is left, in chunks of append_batch_max.
  std::vector<events::NewEvent> batch_;
  std::size_t batch_done_ = 0;
  bool uncertain_ = false;  // the last attempt failed: it may have been committed all the same
  std::chrono::milliseconds delay_{10};  // the current back-off
  std::optional<SteadyTime> retry_at_;   // backing off until then

  bool caught_up_told_ = false;              // the last batch handed over was flagged caught_up
  std::optional<SteadyTime> read_again_at_;  // a read failed: the next one not before
  std::vector<events::EventId> load_later_;  // the store could not give them yet
  SteadyTime load_again_at_{};
  std::string checkpoint_saved_;
  SteadyTime checkpoint_tried_at_{};
  SteadyTime renew_at_;    // the next renewal is due then
  SteadyTime held_until_;  // the lease is surely held before then
  LeaseLoss loss_ = LeaseLoss::none;
  bool done_ = false;
  RepeatedWarning commit_failing_, check_failing_, read_failing_, lease_failing_,
      checkpoint_failing_, load_failing_;
};

}  // namespace api_broker::broker
