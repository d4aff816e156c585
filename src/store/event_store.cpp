// The parts of the EventStore port that every backend shares: append() as a batch of one,
// follow() on top of read_after() and wait_for_append(), and the batch UUID check.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "api_broker/limits.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

Result<EventId> EventStore::append(const NewEvent& event) {
  if (event.external_uuid) {
    if (auto valid = events::check_external_uuid(*event.external_uuid); !valid) {
      return fail(std::move(valid).error());
    }
  }
  auto ids = append_batch(std::span<const NewEvent>(&event, 1));
  if (!ids) return fail(std::move(ids).error());
  return ids->front();
}

Result<void> follow_batches(
    EventStore& store, EventId after, const StopSignal& stop,
    const std::function<bool(std::span<const Envelope> batch, bool at_end)>& sink,
    const std::function<bool(const Error&)>& on_corrupt) {
  using namespace std::chrono_literals;
  EventId position = after;
  while (!stop.stop_requested()) {
    auto batch = store.read_after(position, limits::read_batch_max);
    if (!batch) {
      if (batch.error().code != Errc::corrupt || batch.error().related_id == 0) {
        return fail(std::move(batch).error());
      }
      if (!on_corrupt(batch.error())) return {};
      position = EventId{batch.error().related_id};  // reported; read on after it
      continue;
    }
    const bool at_end = batch->size() < limits::read_batch_max;
    if (!batch->empty()) position = batch->back().id;
    if (!sink(*batch, at_end)) return {};
    if (!at_end) continue;  // more may be stored already
    if (auto waited = store.wait_for_append(position, 1000ms, stop); !waited) return waited;
  }
  return {};
}

Result<void> follow(EventStore& store, EventId after, const StopSignal& stop,
                    const std::function<bool(const Envelope&)>& sink,
                    const std::function<bool(const Error&)>& on_corrupt) {
  return follow_batches(
      store, after, stop,
      [&](std::span<const Envelope> batch, bool /*at_end*/) {
        for (const Envelope& envelope : batch) {
          if (!sink(envelope)) return false;
        }
        return true;
      },
      on_corrupt);
}

Result<void> refuse_uuid_twice(std::vector<Uuid>& uuids, EventStore& store) {
  std::sort(uuids.begin(), uuids.end());
  const auto twice = std::adjacent_find(uuids.begin(), uuids.end());
  if (twice == uuids.end()) return {};
  auto existing = store.resolve(*twice);
  if (!existing && existing.error().code != Errc::not_found) {
    return fail(std::move(existing).error());
  }
  return fail(Errc::duplicate,
              "duplicate event identifier " + events::to_string(*twice) + " (twice in a batch)",
              existing ? events::to_int(*existing) : 0);
}

Error lease_lost(const Fence& fence, const LeaseHolder& holder) {
  const std::string now = holder.owner.empty()
                              ? std::string("nobody holds it")
                              : fmt::format("{} holds it at epoch {}", holder.owner, holder.epoch);
  return Error{Errc::fenced,
               fmt::format("the '{}' lease taken by {} at epoch {} was taken over ({}); nothing "
                           "was stored",
                           fence.lease, fence.owner, fence.epoch, now)};
}

}  // namespace api_broker::store
