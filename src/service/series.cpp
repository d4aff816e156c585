#include "series.hpp"

#include <algorithm>

#include "api_broker/assert.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::service {
namespace {

std::int64_t second_of(TimePoint at) {
  return std::chrono::floor<std::chrono::seconds>(at.time_since_epoch()).count();
}

}  // namespace

Series::Series(std::size_t seconds) : seconds_(seconds) {
  API_BROKER_ASSERT(seconds > 0);
  API_BROKER_ASSERT(seconds <= limits::stats_series_seconds_max);
}

SeriesPoint* Series::bucket(TimePoint at) {
  const std::int64_t second = second_of(at);
  const auto span = static_cast<std::int64_t>(seconds_);
  if (!points_.empty() && second <= points_.back().second - span) return nullptr;  // too old
  if (points_.empty() || second > points_.back().second) {
    points_.push_back(SeriesPoint{.second = second});
    while (points_.front().second <= second - span) points_.pop_front();
    return &points_.back();
  }
  auto it = std::lower_bound(points_.begin(), points_.end(), second,
                             [](const SeriesPoint& p, std::int64_t s) { return p.second < s; });
  if (it == points_.end() || it->second != second) it = points_.insert(it, {.second = second});
  return &*it;
}

void Series::submitted(TimePoint at) {
  if (auto* point = bucket(at)) ++point->submitted;
}

void Series::finished(TimePoint at, bool succeeded, Duration latency) {
  auto* point = bucket(at);
  if (point == nullptr) return;
  ++(succeeded ? point->succeeded : point->failed);
  const double seconds = std::max(0.0, to_seconds(latency));
  point->latency_sum += seconds;
  point->latency_max = std::max(point->latency_max, seconds);
}

std::deque<SeriesPoint> Series::window(TimePoint now) const {
  const std::int64_t last = second_of(now);
  const std::int64_t first = last - static_cast<std::int64_t>(seconds_) + 1;
  std::deque<SeriesPoint> out;
  auto it = std::lower_bound(points_.begin(), points_.end(), first,
                             [](const SeriesPoint& p, std::int64_t s) { return p.second < s; });
  for (std::int64_t second = first; second <= last; ++second) {
    if (it != points_.end() && it->second == second) {
      out.push_back(*it++);
    } else {
      out.push_back(SeriesPoint{.second = second});
    }
  }
  return out;
}

}  // namespace api_broker::service
