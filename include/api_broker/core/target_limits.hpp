#pragma once
// A target's limits as values: what `process` flags and `target` events say about protecting a
// partner API, checked once (validate) and turned into the core components' settings. Pure.

#include <cstdint>

#include "api_broker/core/circuit_breaker.hpp"
#include "api_broker/events/events.hpp"
#include "api_broker/result.hpp"

namespace api_broker::core {

// How the processor protects one target (a partner API): its calls at once, rate and circuit
// breaker, and what a timed-out call becomes. 0 = no bound / off. The default target's come
// from `process` flags; a named target's from its `target` event (broker::TargetGate folds them).
struct TargetLimits {
  std::uint32_t calls_max = 0;         // calls at once (a kept late call keeps its slot)
  double rate = 0;                     // calls started per second (token bucket)
  double burst = 0;                    // the bucket's size; 0 = max(1, rate)
  std::uint32_t breaker_failures = 0;  // retryable failures in a row that open the breaker
  double breaker_ratio = 0;            // failure ratio over breaker_window that opens it
  double breaker_window = 0;           // seconds; 0 = 10
  double breaker_pause = 0;            // seconds open before one probe; 0 = 5
  bool abandon_on_timeout = false;     // cancel a timed-out call (else it is kept open)
  friend bool operator==(const TargetLimits&, const TargetLimits&) = default;
};

// Errc::invalid_input with a one-line message naming the flag (`--rate`, ...) when a limit is
// out of range: rate and burst in [0, 1e6] (a rate below 0.001 only as 0), breaker_ratio in
// [0, 1], window and pause 0 or in [0.001 s, one year]; NaN never.
Result<void> validate(const TargetLimits& limits);
// A target event's limits (on_timeout "abandon" abandons; anything else keeps).
TargetLimits limits_of(const events::Target& target);
// The breaker settings of `limits`, with the defaults for 0. The log is input: a value out of
// range in a target event turns that rule off (or takes the default), never asserts.
BreakerSettings breaker_settings(const TargetLimits& limits);

}  // namespace api_broker::core
