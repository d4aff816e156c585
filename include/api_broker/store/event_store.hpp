#pragma once
// The EventStore port: an append-only log of envelopes. Backends: sqlite (default),
// postgresql, mongodb, memory; a logging decorator wraps any of them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"
#include "api_broker/stop_signal.hpp"

namespace api_broker::store {

using events::Envelope;
using events::EventId;
using events::NewEvent;
using events::Uuid;

// Who holds a lease (see EventStore::acquire_lease). `epoch` grows by one each time the
// lease changes hands (never on a renewal), so a holder that lost it, even one that took it
// again later, can tell.
struct LeaseHolder {
  std::string owner;
  TimePoint expires{};
  std::uint64_t epoch = 0;
};

// What a fenced append proves in its own transaction: the lease `lease` is still held by
// `owner` at `epoch` (it may have expired meanwhile, as long as nobody took it).
struct Fence {
  std::string lease;
  std::string owner;
  std::uint64_t epoch = 0;
};

// An append-only log of envelopes; ids increase in the order followers see them, and a
// follower never misses one. Not thread-safe: one owner per instance (open one per thread).
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends `event` and returns its id. If `event.external_uuid` is already stored,
  // returns Errc::duplicate with related_id set to that event's id, and writes nothing.
  // By default, a batch of one; the nil UUID is Errc::invalid_input (it reads as none).
  virtual Result<EventId> append(const NewEvent& event);

  // Appends all of `batch` in one transaction, ids in order, or nothing (a duplicate UUID
  // fails the whole batch as append() does).
  virtual Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) = 0;

  // As append_batch(), in one transaction with a check of `fence`: if the lease has changed
  // hands since the writer took it, nothing is stored and the result is Errc::fenced. A
  // processor appends only this way, so one that lost its lease cannot write after its
  // successor started (docs/RELIABILITY.md, "Fencing").
  virtual Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                           const Fence& fence) = 0;

  // Errc::not_found if there is no such event; Errc::corrupt if its row does not decode.
  virtual Result<Envelope> get(EventId id) = 0;

  // The id of the event stored with `uuid`, or Errc::not_found.
  virtual Result<EventId> resolve(const Uuid& uuid) = 0;

  // Up to `limit` events with id > `after`, in id order. A row that does not decode ends
  // the batch before it; when it is the first row, the result is Errc::corrupt with
  // related_id = its id, so the caller can report it and read on after it.
  virtual Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) = 0;

  // The largest id stored, or no_event for an empty log.
  virtual Result<EventId> last_id() = 0;

  // Blocks until an event with id > `after` may exist, `timeout` passes or `stop` is
  // raised; cheap (no table scan) and woken by appends from any process within
  // milliseconds. Spurious returns are allowed: callers re-read.
  virtual Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                                       const StopSignal& stop) = 0;

  // Small named values that a consumer keeps beside the log (the processor's checkpoint).
  virtual Result<std::optional<std::string>> load_checkpoint(std::string_view name) = 0;
  virtual Result<void> save_checkpoint(std::string_view name, std::string_view value) = 0;

  // A named lease with an expiry, so that one processor acts on the log at a time. Taken
  // when free, expired, or already held by `owner` (then renewed until now + ttl, its epoch
  // unchanged); taking it from nobody or from another owner increments its epoch. Returns
  // the holder after the call: the caller holds it iff holder.owner == owner.
  virtual Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                            std::chrono::milliseconds ttl) = 0;
  // Gives the lease up if `owner` holds it (it is free then; its epoch is kept).
  virtual Result<void> release_lease(std::string_view name, std::string_view owner) = 0;

  // Releases the connection; reports failures (the destructor closes silently).
  virtual Result<void> close() = 0;
};

// For backends that check a batch before writing it: an external UUID that stands twice in
// `uuids` (sorted here) is Errc::duplicate naming it, with the id it already has in `store`
// (0 if none), as a second insert of it would be.
Result<void> refuse_uuid_twice(std::vector<Uuid>& uuids, EventStore& store);

// Whether `holder` (the lease as stored now) is still the one `fence` was taken under.
inline bool holds(const LeaseHolder& holder, const Fence& fence) {
  return holder.owner == fence.owner && holder.epoch == fence.epoch;
}
// The Errc::fenced error of an append refused because the lease is now `holder`.
Error lease_lost(const Fence& fence, const LeaseHolder& holder);

// Calls `sink` for every event with id > `after`, first those stored, then each new one as
// it is appended, until `stop` is raised (returns success) or `sink` returns false. A row
// that does not decode is reported to `on_corrupt` (which may return false to stop) and
// skipped, never dropped silently.
Result<void> follow(EventStore& store, EventId after, const StopSignal& stop,
                    const std::function<bool(const Envelope&)>& sink,
                    const std::function<bool(const Error&)>& on_corrupt);

// As follow(), a batch at a time (at most limits::read_batch_max events), for a consumer that
// applies a batch under one lock: `sink` also learns whether the batch reached the end of the
// log as it was then (it may be empty: an empty log, or nothing new since).
Result<void> follow_batches(
    EventStore& store, EventId after, const StopSignal& stop,
    const std::function<bool(std::span<const Envelope> batch, bool at_end)>& sink,
    const std::function<bool(const Error&)>& on_corrupt);

}  // namespace api_broker::store
