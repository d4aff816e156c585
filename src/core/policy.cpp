#include "api_broker/core/policy.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "api_broker/assert.hpp"
#include "api_broker/core/retry_rule.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::core {
namespace {

constexpr double keep = -1;

// The checks apply() makes, on a policy built in code.
bool is_valid(const Policy& policy) {
  auto duration_ok = [](Duration d) { return d.count() >= 0 && d <= policy_duration_max; };
  return policy.retries <= limits::retries_max && duration_ok(policy.attempt_timeout) &&
         duration_ok(policy.backoff_initial) && duration_ok(policy.backoff_max) &&
         duration_ok(policy.deadline) && std::isfinite(policy.backoff_multiplier) &&
         policy.backoff_multiplier >= 1 && policy.backoff_jitter >= 0 && policy.backoff_jitter <= 1;
}

// Seconds (validated: finite, within [0, one year]) to microseconds, to the nearest.
Duration to_duration(double seconds) {
  return std::chrono::round<Duration>(std::chrono::duration<double>(seconds));
}

// Folds one duration field: -1 keeps `current`.
Result<Duration> apply_duration(Duration current, double seconds, std::string_view name) {
  if (seconds == keep) return current;
  const auto max_seconds = std::chrono::duration_cast<std::chrono::seconds>(policy_duration_max);
  if (!std::isfinite(seconds) || seconds < 0 ||
      seconds > static_cast<double>(max_seconds.count())) {
    return fail(Errc::invalid_input,
                fmt::format("{} must be -1 (keep) or from 0 to {} seconds, got {}", name,
                            max_seconds.count(), seconds));
  }
  const Duration d = to_duration(seconds);
  if (seconds > 0 && d.count() == 0) {
    return fail(Errc::invalid_input,
                fmt::format("{} must be 0 or at least 0.000001 seconds, got {}", name, seconds));
  }
  return d;
}

// The stateless mixer of SplitMix64: a fixed, well-spread 64-bit hash.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Result<Policy> apply(const Policy& current, const events::Configuration& change) {
  Policy next = current;
  if (change.retries != -1) {
    if (change.retries < 0 || change.retries > limits::retries_max) {
      return fail(Errc::invalid_input,
                  fmt::format("retries must be -1 (keep) or from 0 to {}, got {}",
                              limits::retries_max, change.retries));
    }
    next.retries = static_cast<std::uint32_t>(change.retries);
  }
  auto timeout = apply_duration(current.attempt_timeout, change.timeout, "timeout");
  if (!timeout) return fail(std::move(timeout).error());
  next.attempt_timeout = *timeout;
  auto initial = apply_duration(current.backoff_initial, change.backoff_initial, "backoff_initial");
  if (!initial) return fail(std::move(initial).error());
  next.backoff_initial = *initial;
  if (change.backoff_multiplier != keep) {
    if (!std::isfinite(change.backoff_multiplier) || change.backoff_multiplier < 1) {
      return fail(
          Errc::invalid_input,
          fmt::format("backoff_multiplier must be -1 (keep) or a finite number >= 1, got {}",
                      change.backoff_multiplier));
    }
    next.backoff_multiplier = change.backoff_multiplier;
  }
  auto cap = apply_duration(current.backoff_max, change.backoff_max, "backoff_max");
  if (!cap) return fail(std::move(cap).error());
  next.backoff_max = *cap;
  if (change.backoff_jitter != keep) {
    // NaN fails both comparisons, so test for the valid range.
    if (!(change.backoff_jitter >= 0 && change.backoff_jitter <= 1)) {
      return fail(Errc::invalid_input,
                  fmt::format("backoff_jitter must be -1 (keep) or from 0 to 1, got {}",
                              change.backoff_jitter));
    }
    next.backoff_jitter = change.backoff_jitter;
  }
  auto deadline = apply_duration(current.deadline, change.deadline, "deadline");
  if (!deadline) return fail(std::move(deadline).error());
  next.deadline = *deadline;
  API_BROKER_ASSERT(is_valid(next));
  return next;
}

events::Configuration to_configuration(const Policy& policy) {
  API_BROKER_ASSERT(is_valid(policy));
  return events::Configuration{
      .retries = static_cast<std::int64_t>(policy.retries),
      .timeout = to_seconds(policy.attempt_timeout),
      .backoff_initial = to_seconds(policy.backoff_initial),
      .backoff_multiplier = policy.backoff_multiplier,
      .backoff_max = to_seconds(policy.backoff_max),
      .backoff_jitter = policy.backoff_jitter,
      .deadline = to_seconds(policy.deadline),
  };
}

Duration backoff_delay(const Policy& policy, events::EventId request, std::uint32_t attempt) {
  API_BROKER_ASSERT(attempt >= 1);
  API_BROKER_ASSERT(attempt <= limits::retries_max);
  API_BROKER_ASSERT(is_valid(policy));
  // Grow by repeated multiplication, not std::pow: basic IEEE operations round the same
  // everywhere, libm does not. Bounded by retries_max steps; stops at the cap.
  const auto cap = static_cast<double>(policy.backoff_max.count());
  double delay = static_cast<double>(policy.backoff_initial.count());
  for (std::uint32_t step = 1; step < attempt && delay < cap; ++step) {
    delay *= policy.backoff_multiplier;
  }
  // Both are at most one year in microseconds (< 2^53): exact as doubles, safe to convert.
  const auto base = static_cast<std::int64_t>(std::floor(std::min(delay, cap)));
  // 53 bits of the hash as a fraction in [0, 1), exactly.
  const std::uint64_t hash = mix(mix(events::to_int(request)) ^ attempt);
  const double drawn = static_cast<double>(hash >> 11) * 0x1.0p-53;
  const double fraction = drawn * policy.backoff_jitter;  // in [0, jitter]
  const auto off = static_cast<std::int64_t>(std::floor(static_cast<double>(base) * fraction));
  API_BROKER_ASSERT(off >= 0);
  API_BROKER_ASSERT(off <= base);
  return Duration{base - off};
}

bool is_retryable(const events::ApiFailure& failure) { return is_retryable(failure, RetryRule{}); }

}  // namespace api_broker::core
