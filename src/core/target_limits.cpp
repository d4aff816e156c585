#include "api_broker/core/target_limits.hpp"

#include <fmt/format.h>

#include <tuple>
#include <utility>

#include "api_broker/core/policy.hpp"

namespace api_broker::core {
namespace {

using namespace std::chrono_literals;

Result<void> check_range(const char* flag, double value, double high) {
  if (!(value >= 0 && value <= high)) {  // NaN fails both
    return fail(Errc::invalid_input, fmt::format("{} must be between 0 and {}", flag, high));
  }
  return {};
}

}  // namespace

Result<void> validate(const TargetLimits& limits) {
  const double year = to_seconds(policy_duration_max);
  for (const auto& [flag, value, high] :
       {std::tuple{"--rate", limits.rate, 1e6}, std::tuple{"--burst", limits.burst, 1e6},
        std::tuple{"--breaker-ratio", limits.breaker_ratio, 1.0},
        std::tuple{"--breaker-window", limits.breaker_window, year},
        std::tuple{"--breaker-pause", limits.breaker_pause, year}}) {
    if (auto ok = check_range(flag, value, high); !ok) return ok;
  }
  if (limits.rate > 0 && limits.rate < 0.001) {
    return fail(Errc::invalid_input, "--rate must be 0 (no limit) or at least 0.001 calls/s");
  }
  for (const auto& [flag, value] : {std::pair{"--breaker-window", limits.breaker_window},
                                    std::pair{"--breaker-pause", limits.breaker_pause}}) {
    if (value > 0 && value < 1e-3) {
      return fail(Errc::invalid_input, fmt::format("{} must be 0 or at least 0.001 s", flag));
    }
  }
  return {};
}

TargetLimits limits_of(const events::Target& target) {
  return TargetLimits{.calls_max = target.calls_max,
                      .rate = target.rate,
                      .burst = target.burst,
                      .breaker_failures = target.breaker_failures,
                      .breaker_ratio = target.breaker_ratio,
                      .breaker_window = target.breaker_window,
                      .breaker_pause = target.breaker_pause,
                      .abandon_on_timeout = target.on_timeout == "abandon"};
}

BreakerSettings breaker_settings(const TargetLimits& limits) {
  // The log is input: a bad number in a target event turns that rule off, never asserts.
  const auto seconds_or = [](double value, Duration fallback) {
    if (!(value >= 1e-3 && value <= to_seconds(policy_duration_max))) return fallback;
    return from_seconds(value);
  };
  const bool ratio_ok = limits.breaker_ratio > 0 && limits.breaker_ratio <= 1;
  return BreakerSettings{.failures = limits.breaker_failures,
                         .ratio = ratio_ok ? limits.breaker_ratio : 0.0,
                         .window = seconds_or(limits.breaker_window, 10s),
                         .pause = seconds_or(limits.breaker_pause, 5s)};
}

}  // namespace api_broker::core
