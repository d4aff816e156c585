#include "api_broker/core/circuit_breaker.hpp"

#include <fmt/format.h>

#include "api_broker/assert.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::core {

std::string_view to_string(BreakerPhase phase) {
  switch (phase) {
    case BreakerPhase::closed:
      return "closed";
    case BreakerPhase::open:
      return "open";
    case BreakerPhase::half_open:
      return "half-open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(BreakerSettings settings) : settings_(settings) {}

void CircuitBreaker::configure(BreakerSettings settings) {
  settings_ = settings;
  failures_in_row_ = 0;
  window_.clear();
  window_failures_ = 0;
}

bool CircuitBreaker::allows() const {
  switch (phase_) {
    case BreakerPhase::closed:
      return true;
    case BreakerPhase::open:
      return false;
    case BreakerPhase::half_open:
      return !probe_out_;
  }
  return false;
}

std::optional<TimePoint> CircuitBreaker::half_open_at() const {
  if (phase_ != BreakerPhase::open) return std::nullopt;
  return opened_at_ + settings_.pause;
}

std::optional<BreakerTransition> CircuitBreaker::on_time(TimePoint now) {
  if (phase_ != BreakerPhase::open || now < opened_at_ + settings_.pause) return std::nullopt;
  phase_ = BreakerPhase::half_open;
  probe_out_ = false;
  return BreakerTransition{.to = BreakerPhase::half_open};
}

bool CircuitBreaker::on_start() {
  API_BROKER_ASSERT(allows());
  if (phase_ != BreakerPhase::half_open) return false;
  probe_out_ = true;
  return true;
}

std::optional<BreakerTransition> CircuitBreaker::on_outcome(bool failed, bool probe,
                                                            TimePoint now) {
  if (phase_ == BreakerPhase::half_open && probe) {
    probe_out_ = false;
    if (failed) return open(now, "the probe failed");
    phase_ = BreakerPhase::closed;
    return BreakerTransition{.to = BreakerPhase::closed, .reason = "probe succeeded"};
  }
  // Open or half-open: calls started before it opened tell nothing the probe will not.
  if (phase_ != BreakerPhase::closed || !settings_.enabled()) return std::nullopt;
  failures_in_row_ = failed ? failures_in_row_ + 1 : 0;
  if (settings_.ratio > 0) {
    window_.push_back(Outcome{now, failed});
    if (failed) ++window_failures_;
  }
  if (auto reason = should_open(now)) return open(now, std::move(*reason));
  return std::nullopt;
}

// Drops outcomes older than the window (or beyond its bound), then applies both rules.
std::optional<std::string> CircuitBreaker::should_open(TimePoint now) {
  if (settings_.failures > 0 && failures_in_row_ >= settings_.failures) {
    return fmt::format("{} retryable failures in a row", failures_in_row_);
  }
  while (!window_.empty() && (window_.front().at <= now - settings_.window ||
                              window_.size() > limits::breaker_window_outcomes_max)) {
    if (window_.front().failed) --window_failures_;
    window_.pop_front();
  }
  if (settings_.ratio <= 0 || window_.size() < limits::breaker_window_calls_min) {
    return std::nullopt;
  }
  const double ratio = static_cast<double>(window_failures_) / static_cast<double>(window_.size());
  if (ratio < settings_.ratio) return std::nullopt;
  return fmt::format("failure ratio {:.2f} over the last {:.3g} s ({} of {} calls)", ratio,
                     to_seconds(settings_.window), window_failures_, window_.size());
}

std::optional<BreakerTransition> CircuitBreaker::open(TimePoint now, std::string reason) {
  phase_ = BreakerPhase::open;
  opened_at_ = now;
  probe_out_ = false;
  failures_in_row_ = 0;
  window_.clear();
  window_failures_ = 0;
  return BreakerTransition{.to = BreakerPhase::open, .reason = std::move(reason)};
}

void CircuitBreaker::restore(BreakerPhase phase, TimePoint at) {
  phase_ = phase;
  opened_at_ = at;
  probe_out_ = false;
  failures_in_row_ = 0;
  window_.clear();
  window_failures_ = 0;
}

}  // namespace api_broker::core
