// The parts of the EventStore port that every backend shares: append() as a batch of one,
// and follow() on top of read_after() and wait_for_append().

#include <chrono>

#include "api_broker/limits.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

Result<EventId> EventStore::append(const NewEvent& event) {
  auto ids = append_batch(std::span<const NewEvent>(&event, 1));
  if (!ids) return fail(std::move(ids).error());
  return ids->front();
}

Result<void> follow(EventStore& store, EventId after, const StopSignal& stop,
                    const std::function<bool(const Envelope&)>& sink,
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
    for (const Envelope& envelope : *batch) {
      position = envelope.id;
      if (!sink(envelope)) return {};
    }
    if (batch->size() == limits::read_batch_max) continue;  // more may be stored already
    if (auto waited = store.wait_for_append(position, 1000ms, stop); !waited) return waited;
  }
  return {};
}

}  // namespace api_broker::store
