#pragma once
// The retry policy of a request: how many attempts, how long each may take, how long to wait
// between them, and which failures are worth retrying. Pure values and functions: no I/O, no
// clock reads. A request keeps the policy in force when it arrived (DESIGN.md).

#include <chrono>
#include <cstdint>

#include "api_broker/events/envelope.hpp"
#include "api_broker/events/events.hpp"
#include "api_broker/result.hpp"
#include "api_broker/time.hpp"

namespace api_broker::core {

// The defaults below are the one source for --help and the README.
struct Policy {
  // Further attempts after the first.
  std::uint32_t retries = 3;
  // Time one attempt may take; 0 = none.
  Duration attempt_timeout = std::chrono::seconds{10};
  // Delay before the first retry; each later one is backoff_multiplier (>= 1) times longer,
  // up to backoff_max.
  Duration backoff_initial = std::chrono::milliseconds{200};
  double backoff_multiplier = 2.0;
  Duration backoff_max = std::chrono::seconds{30};
  // Up to this fraction (in [0, 1]) of each delay is drawn off, so retries spread out.
  double backoff_jitter = 0.2;
  // Time from the request's created time to its last possible attempt end; 0 = none.
  Duration deadline = std::chrono::seconds{0};
  friend bool operator==(const Policy&, const Policy&) = default;
};

// The longest attempt timeout, deadline or backoff a configuration may set.
inline constexpr Duration policy_duration_max = std::chrono::hours{24 * 365};

// Folds a configuration event into the policy in force. A field of -1 keeps the current value
// (fields an older log lacks decode as -1). Errc::invalid_input, with a one-line message that
// names the field, for: a negative value other than -1, NaN or infinity, retries above
// limits::retries_max, backoff_multiplier below 1, backoff_jitter outside [0, 1], a duration
// above one year, or a positive duration below one microsecond (it would round to 0, which
// means "none" for timeout and deadline). The input is data: this never asserts.
Result<Policy> apply(const Policy& current, const events::Configuration& change);

// The whole policy as a configuration event (no -1 fields), e.g. for checkpoints:
// apply(anything, to_configuration(p)) == p.
events::Configuration to_configuration(const Policy& policy);

// The delay before attempt `attempt` (a retry, so >= 1), counted from the end of the previous
// attempt: min(backoff_max, backoff_initial * backoff_multiplier^(attempt - 1)), less a fraction
// in [0, backoff_jitter) of it drawn from a hash of (request, attempt). Reproducible on any
// platform (IEEE arithmetic only, no libm, no random state), so `verify` can recompute it;
// changing the hash changes what verify expects of older logs.
// REQUIRES: 1 <= attempt <= limits::retries_max; `policy` valid (as apply() returns).
Duration backoff_delay(const Policy& policy, events::EventId request, std::uint32_t attempt);

// Whether a failed attempt is worth retrying: no answer (status 0: connection error, dropped),
// 5xx, 408 Request Timeout and 429 Too Many Requests are; every other status is not, and
// neither is a failure marked permanent (e.g. a certificate that failed verification).
bool is_retryable(const events::ApiFailure& failure);

}  // namespace api_broker::core
