#pragma once
// The named targets of a store (`target` events), folded in log order like configuration
// events: each event states a whole definition and replaces the earlier one of its name for
// requests that arrive after it. Pure: no I/O. A snapshot is immutable and shared
// (std::shared_ptr<const Targets>): every request keeps the one in force when it arrived, as
// it keeps its policy, and a change makes a new snapshot.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "api_broker/broker/destination.hpp"
#include "api_broker/core/retry_rule.hpp"
#include "api_broker/events/events.hpp"
#include "api_broker/result.hpp"

namespace api_broker::broker {

// A target event checked, with what calls need of it parsed once.
struct TargetDefinition {
  events::Target event;
  Endpoint endpoint;           // parsed event.url (unset when removed)
  core::RetryRule retry_on{};  // parsed event.retry_on
};

// Checks a target event: name [A-Za-z0-9._-]{1,64}; unless removed, url an absolute http(s)
// base URL; headers valid (check_headers); numbers finite and not negative, breaker_ratio at
// most 1; on_timeout "", keep or abandon; retry_on as core::parse_retry_rule reads it.
// Errc::invalid_input with a one-line message naming the field.
Result<TargetDefinition> check_target(const events::Target& target);

class Targets {
 public:
  // The definition in force for `name`, removed ones included; null if none was ever given.
  [[nodiscard]] const TargetDefinition* find(std::string_view name) const;
  [[nodiscard]] const std::map<std::string, TargetDefinition, std::less<>>& all() const {
    return by_name_;
  }
  [[nodiscard]] bool empty() const { return by_name_.empty(); }

  // A snapshot with `target` folded in. Errc::invalid_input (check_target, or more than
  // limits::targets_max names): the event is ignored, as an invalid configuration is.
  [[nodiscard]] Result<std::shared_ptr<const Targets>> with(const events::Target& target) const;

 private:
  std::map<std::string, TargetDefinition, std::less<>> by_name_;
};

// A request's target as the registry `targets` has it: the definition, or Errc::not_found
// ("target 'x' is not defined" / "target 'x' was removed").
Result<const TargetDefinition*> find_target(const Targets& targets, std::string_view name);

}  // namespace api_broker::broker
