#include "fault_plan.hpp"

#include <algorithm>

namespace api_broker::brittle_api::detail {
namespace {

// A uniform double in [0, 1) from the top 53 bits: the same on every platform, unlike
// std::uniform_real_distribution, so a seed means the same run everywhere.
double draw_unit(std::mt19937_64& random) {
  return static_cast<double>(random() >> 11) * 0x1.0p-53;
}

}  // namespace

std::string_view to_log_text(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
      return "ok";
    case Outcome::unavailable:
      return "503";
    case Outcome::dropped:
      return "dropped";
    case Outcome::stale:
      return "stale";
  }
  return "?";
}

FaultPlanner::FaultPlanner(const Options& options, std::uint64_t seed)
    : min_latency_(options.min_latency),
      max_latency_(options.max_latency),
      failure_rate_(options.failure_rate),
      silent_failure_rate_(options.silent_failure_rate),
      random_(seed) {}

Plan FaultPlanner::draw() {
  const double latency_draw = draw_unit(random_);
  const double failure_draw = draw_unit(random_);
  const double silence_draw = draw_unit(random_);
  Plan plan{};
  plan.latency_seconds = min_latency_ + latency_draw * (max_latency_ - min_latency_);
  plan.latency_seconds = std::clamp(plan.latency_seconds, min_latency_, max_latency_);  // rounding
  plan.outcome = failure_draw >= failure_rate_         ? Outcome::ok
                 : silence_draw < silent_failure_rate_ ? Outcome::dropped
                                                       : Outcome::unavailable;
  return plan;
}

}  // namespace api_broker::brittle_api::detail
