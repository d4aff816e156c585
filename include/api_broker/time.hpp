#pragma once
// Time as values: the core never reads a clock; adapters pass `now` in.

#include <chrono>

namespace api_broker {

using Duration = std::chrono::microseconds;
// UTC wall time with microsecond precision, as stored in every envelope.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

inline TimePoint utc_now() {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

// Seconds as a double (the unit of the prototype's JSON) to and from Duration.
// Rounds to the nearest microsecond (0.3 s is 300000 us, not 299999).
inline Duration from_seconds(double seconds) {
  return std::chrono::round<Duration>(std::chrono::duration<double>(seconds));
}
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace api_broker
