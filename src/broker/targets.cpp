#include "api_broker/broker/targets.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {
namespace {

Result<void> check_name(std::string_view name) {
  const bool valid =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
      });
  if (valid) return {};
  return fail(Errc::invalid_input,
              fmt::format("target name '{}' must be 1 to 64 of A-Z a-z 0-9 . _ -",
                          events::printable(name)));
}

Result<void> check_number(std::string_view field, double value, double max) {
  // NaN fails both comparisons, so test for the valid range.
  if (value >= 0 && value <= max) return {};
  return fail(Errc::invalid_input,
              fmt::format("target {} must be a number from 0 to {}, got {}", field, max, value));
}

}  // namespace

Result<TargetDefinition> check_target(const events::Target& target) {
  if (auto name = check_name(target.name); !name) return fail(std::move(name).error());
  TargetDefinition definition{.event = target, .endpoint = {}, .retry_on = {}};
  if (target.removed) return definition;
  if (target.url.empty()) {
    return fail(Errc::invalid_input, fmt::format("target {}: url is required", target.name));
  }
  auto endpoint = parse_endpoint(target.url);
  if (!endpoint) {
    return fail(Errc::invalid_input,
                fmt::format("target {}: {}", target.name, endpoint.error().message));
  }
  definition.endpoint = std::move(*endpoint);
  if (auto headers = check_headers(target.headers); !headers) {
    return fail(Errc::invalid_input,
                fmt::format("target {}: {}", target.name, headers.error().message));
  }
  auto rule = core::parse_retry_rule(target.retry_on);
  if (!rule) {
    return fail(Errc::invalid_input,
                fmt::format("target {}: {}", target.name, rule.error().message));
  }
  definition.retry_on = *rule;
  constexpr double seconds_max = 365.0 * 24 * 3600;
  for (const auto& [field, value, max] :
       {std::tuple{"rate", target.rate, 1e9}, std::tuple{"burst", target.burst, 1e9},
        std::tuple{"breaker_ratio", target.breaker_ratio, 1.0},
        std::tuple{"breaker_window", target.breaker_window, seconds_max},
        std::tuple{"breaker_pause", target.breaker_pause, seconds_max}}) {
    if (auto checked = check_number(field, value, max); !checked) {
      return fail(Errc::invalid_input,
                  fmt::format("target {}: {}", target.name, checked.error().message));
    }
  }
  if (!target.on_timeout.empty() && target.on_timeout != "keep" && target.on_timeout != "abandon") {
    return fail(Errc::invalid_input,
                fmt::format("target {}: on_timeout must be keep or abandon, got '{}'", target.name,
                            events::printable(target.on_timeout)));
  }
  return definition;
}

const TargetDefinition* Targets::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

Result<std::shared_ptr<const Targets>> Targets::with(const events::Target& target) const {
  auto definition = check_target(target);
  if (!definition) return fail(std::move(definition).error());
  if (by_name_.size() >= limits::targets_max && by_name_.count(target.name) == 0) {
    return fail(Errc::invalid_input, fmt::format("target {}: at most {} targets may be defined",
                                                 target.name, limits::targets_max));
  }
  auto next = std::make_shared<Targets>(*this);
  next->by_name_.insert_or_assign(target.name, std::move(*definition));
  return std::shared_ptr<const Targets>(std::move(next));
}

Result<const TargetDefinition*> find_target(const Targets& targets, std::string_view name) {
  const TargetDefinition* definition = targets.find(name);
  if (definition == nullptr) {
    return fail(Errc::not_found,
                fmt::format("target '{}' is not defined", events::printable(name)));
  }
  if (definition->event.removed) {
    return fail(Errc::not_found, fmt::format("target '{}' was removed", events::printable(name)));
  }
  return definition;
}

}  // namespace api_broker::broker
