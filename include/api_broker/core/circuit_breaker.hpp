#pragma once
// The circuit breaker of one target: it stops calls to a partner that is failing, lets one
// probe through after a pause, and lets calls flow again once a probe succeeds. Pure: no
// clock reads (time comes in as values), no I/O; the processor appends each transition it
// returns as an event (breaker-opened, breaker-half-opened, breaker-closed), so `verify` and
// a restarted processor see the same decisions.
//
//   closed --(failures in a row, or failure ratio over the window)--> open
//   open --(pause over; on_time)--> half_open: one call (the probe) may start
//   half_open --(the probe succeeded)--> closed
//   half_open --(the probe failed, or ended without an outcome)--> open
//
// Failures are what a retry would be made for (no answer, 5xx, 408, 429) and timeouts; any
// other answer, 4xx included, shows a partner that works.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/time.hpp"

namespace api_broker::core {

struct BreakerSettings {
  std::uint32_t failures = 0;  // retryable failures in a row that open it; 0 = off
  double ratio = 0;            // failure ratio in (0, 1] over `window` that opens it; 0 = off
  Duration window = std::chrono::seconds{10};
  Duration pause = std::chrono::seconds{5};  // open this long before the probe
  [[nodiscard]] bool enabled() const { return failures > 0 || ratio > 0; }
  friend bool operator==(const BreakerSettings&, const BreakerSettings&) = default;
};

enum class BreakerPhase : std::uint8_t { closed, open, half_open };
std::string_view to_string(BreakerPhase phase);

// A transition to append as an event.
struct BreakerTransition {
  BreakerPhase to = BreakerPhase::closed;
  std::string reason{};
  friend bool operator==(const BreakerTransition&, const BreakerTransition&) = default;
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerSettings settings = {});

  [[nodiscard]] BreakerPhase phase() const { return phase_; }
  [[nodiscard]] const BreakerSettings& settings() const { return settings_; }
  // New settings (a target event): the phase stays; the counts start over.
  void configure(BreakerSettings settings);

  // Whether a call may start: closed, or half-open with its probe not out yet. Off: always.
  [[nodiscard]] bool allows() const;
  // Open: when the pause ends and on_time() half-opens it.
  [[nodiscard]] std::optional<TimePoint> half_open_at() const;
  // Open with its pause over at `now`: half-opens it.
  std::optional<BreakerTransition> on_time(TimePoint now);
  // A call starts (REQUIRES: allows()). Returns true when it is the probe.
  bool on_start();
  // The outcome of a call (`failed`: a retryable failure or a timeout). `probe`: it was the
  // probe on_start() named. Outcomes of other calls count only while closed.
  std::optional<BreakerTransition> on_outcome(bool failed, bool probe, TimePoint now);

  // A transition read from the log, decided by an earlier run of the processor.
  void restore(BreakerPhase phase, TimePoint at);

 private:
  std::optional<BreakerTransition> open(TimePoint now, std::string reason);
  std::optional<std::string> should_open(TimePoint now);

  BreakerSettings settings_;
  BreakerPhase phase_ = BreakerPhase::closed;
  TimePoint opened_at_{};
  bool probe_out_ = false;
  std::uint32_t failures_in_row_ = 0;
  struct Outcome {
    TimePoint at;
    bool failed;
  };
  std::deque<Outcome> window_;  // closed: the newest outcomes within the window
  std::size_t window_failures_ = 0;
};

}  // namespace api_broker::core
