#pragma once
// The processor's checkpoint: where a restarted processor resumes. Every request with a
// smaller id than `after` + 1 had its terminal event read, so reading from there rebuilds
// every unfinished request completely; `policy` is the policy in force just before that
// point (configuration events after it are read again).

#include <optional>
#include <string>

#include "api_broker/core/policy.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

struct Checkpoint {
  events::EventId after{};
  core::Policy policy{};
};

std::string encode_checkpoint(const Checkpoint& checkpoint);
Result<Checkpoint> decode_checkpoint(std::string_view text);

// Where a processor starts: after `start_after` when given (with the default policy), else
// at the checkpoint saved under `name`, else at the beginning. Errc::corrupt for a stored
// checkpoint that does not decode.
Result<Checkpoint> load_resume_point(store::EventStore& store, std::string_view name,
                                     std::optional<events::EventId> start_after);

}  // namespace api_broker::broker
