#pragma once
// Where a processor starts reading: the real one and the simulated one alike.

#include <optional>
#include <string_view>

#include "api_broker/broker/checkpoint.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

// After `start_after` when given, with the policy in force there (the configuration events up
// to it folded, from the checkpoint saved under `name` when that is not beyond it), else at
// the checkpoint saved under `name`, else at the beginning. Errc::corrupt for a stored
// checkpoint that does not decode, unless `start_after` replaces it.
// Any view of the log that starts mid-log (the processor, watch-requests) starts here.
Result<Checkpoint> load_resume_point(store::EventStore& store, std::string_view name,
                                     std::optional<events::EventId> start_after);

// `from` moved on to `after`: the configuration and target events between them folded into its
// policy and targets (an invalid one is ignored, as the processor ignores it; an unreadable row
// is skipped). E.g. the targets in force at the log's end: fold_in_force(store, {}, last).
Result<Checkpoint> fold_in_force(store::EventStore& store, Checkpoint from, events::EventId after);

}  // namespace api_broker::broker
