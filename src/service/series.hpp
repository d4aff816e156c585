#pragma once
// The recent past of the log in one-second buckets, for the dashboard's charts (GET /v1/stats):
// requests submitted and finished per second and the latency to outcome of those finished.
// A fold of events by their stored time, so a restarted service draws the same chart. Pure and
// single-threaded (Metrics guards it). Bounded: the newest `seconds` buckets; an event older
// than the window is not counted.

#include <cstddef>
#include <cstdint>
#include <deque>

#include "api_broker/time.hpp"

namespace api_broker::service {

struct SeriesPoint {
  std::int64_t second = 0;  // Unix time of the bucket's start
  std::uint64_t submitted = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double latency_sum = 0;  // seconds from request to outcome, over the requests finished
  double latency_max = 0;
  friend bool operator==(const SeriesPoint&, const SeriesPoint&) = default;
};

class Series {
 public:
  // REQUIRES: 0 < seconds <= limits::stats_series_seconds_max.
  explicit Series(std::size_t seconds);

  void submitted(TimePoint at);
  void finished(TimePoint at, bool succeeded, Duration latency);

  // The buckets from `now` - seconds + 1 to `now`, oldest first, empty ones included.
  [[nodiscard]] std::deque<SeriesPoint> window(TimePoint now) const;

 private:
  SeriesPoint* bucket(TimePoint at);

  std::size_t seconds_;
  std::deque<SeriesPoint> points_;  // ascending `second`, gaps allowed, at most seconds_
};

}  // namespace api_broker::service
