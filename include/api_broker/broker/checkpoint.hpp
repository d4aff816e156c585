#pragma once
// The processor's checkpoint: where a restarted processor resumes. Every request with a
// smaller id than `after` + 1 had its terminal event read, so reading from there rebuilds
// every unfinished request completely; `policy` is the policy in force just before that
// point (configuration events after it are read again), and `targets` the targets in force
// there (target events after it are read again).

#include <memory>
#include <string>

#include "api_broker/broker/targets.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"

namespace api_broker::broker {

struct Checkpoint {
  events::EventId after{};
  core::Policy policy{};
  std::shared_ptr<const Targets> targets{};  // in force there; null: none
};

std::string encode_checkpoint(const Checkpoint& checkpoint);
Result<Checkpoint> decode_checkpoint(std::string_view text);

}  // namespace api_broker::broker
