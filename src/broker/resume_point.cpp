#include "api_broker/broker/resume_point.hpp"

#include "api_broker/limits.hpp"

namespace api_broker::broker {

Result<Checkpoint> fold_in_force(store::EventStore& store, Checkpoint from, events::EventId after) {
  events::EventId position = from.after;
  while (events::to_int(position) < events::to_int(after)) {
    auto batch = store.read_after(position, limits::read_batch_max);
    if (!batch) {
      if (batch.error().code != Errc::corrupt || batch.error().related_id == 0) {
        return fail(std::move(batch).error());
      }
      position = events::EventId{batch.error().related_id};
      continue;
    }
    if (batch->empty()) break;
    for (const events::Envelope& envelope : *batch) {
      if (events::to_int(envelope.id) > events::to_int(after)) break;
      if (const auto* c = std::get_if<events::Configuration>(&envelope.event)) {
        if (auto next = core::apply(from.policy, *c)) from.policy = *next;
      }
      if (const auto* t = std::get_if<events::Target>(&envelope.event)) {
        if (!from.targets) from.targets = std::make_shared<const Targets>();
        if (auto next = from.targets->with(*t)) from.targets = std::move(*next);
      }
    }
    position = batch->back().id;
  }
  from.after = after;
  return from;
}

Result<Checkpoint> load_resume_point(store::EventStore& store, std::string_view name,
                                     std::optional<events::EventId> start_after) {
  auto saved = store.load_checkpoint(name);
  if (!saved) return fail(std::move(saved).error());
  if (!start_after) {
    if (!*saved) return Checkpoint{};
    return decode_checkpoint(**saved);
  }
  // Mid-log: the policy in force there. The saved checkpoint carries the one at its position:
  // when that is not beyond `start_after`, only the events between them are read. An
  // unreadable checkpoint is what --start-after replaces: read from the beginning then.
  Checkpoint from{};
  if (*saved) {
    auto checkpoint = decode_checkpoint(**saved);
    if (checkpoint && events::to_int(checkpoint->after) <= events::to_int(*start_after)) {
      from = *checkpoint;
    }
  }
  return fold_in_force(store, from, *start_after);
}

}  // namespace api_broker::broker
