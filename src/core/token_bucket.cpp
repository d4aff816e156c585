#include "api_broker/core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

#include "api_broker/assert.hpp"

namespace api_broker::core {

namespace {

// The bounds keep (burst - 1) * interval far from overflowing a Duration.
constexpr double rate_min = 0.001;  // one call per 1000 s
constexpr double rate_max = 1e6;
constexpr double burst_max = 1e6;

double bounded_rate(double rate) { return std::clamp(rate, rate_min, rate_max); }

std::uint64_t whole_burst(double rate, double burst) {
  const double size = burst >= 1 ? burst : std::max(1.0, bounded_rate(rate));
  return static_cast<std::uint64_t>(std::min(std::floor(size), burst_max));
}

}  // namespace

TokenBucket::TokenBucket(double rate, double burst)
    : interval_(std::max(Duration(1), from_seconds(1.0 / bounded_rate(rate)))),
      burst_(whole_burst(rate, burst)),
      tolerance_(interval_ * static_cast<std::int64_t>(burst_ - 1)) {
  API_BROKER_ASSERT(rate > 0);  // 0 is "no limit": the caller has no bucket then
}

bool TokenBucket::try_take(TimePoint now) {
  const TimePoint from = std::max(theoretical_, now);
  if (from - tolerance_ > now) return false;
  theoretical_ = from + interval_;
  return true;
}

TimePoint TokenBucket::next_token_at(TimePoint now) const {
  return std::max(now, std::max(theoretical_, now) - tolerance_);
}

}  // namespace api_broker::core
