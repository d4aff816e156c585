#pragma once
// A token bucket on time values: at most `burst` calls at once after a quiet spell, and
// `rate` calls per second on average, so over any span T at most burst + rate * T calls start.
// Pure: no clock reads; the caller passes `now`. Kept as a theoretical arrival time (GCRA) in
// whole microseconds, so the bound is exact and does not drift with floating-point refills.

#include <cstdint>

#include "api_broker/time.hpp"

namespace api_broker::core {

class TokenBucket {
 public:
  // REQUIRES: rate > 0 (calls per second; held within [0.001, 1e6]). burst: tokens the bucket
  // holds; values below 1 (and 0, "the default") mean max(1, rate); fractions are cut; at most
  // 1e6.
  TokenBucket(double rate, double burst);

  // Takes a token if one is there at `now`: true, the call may start.
  bool try_take(TimePoint now);
  // When the next token will be there (`now` if one is there already).
  [[nodiscard]] TimePoint next_token_at(TimePoint now) const;

  [[nodiscard]] Duration interval() const { return interval_; }
  [[nodiscard]] std::uint64_t burst() const { return burst_; }

 private:
  Duration interval_;  // one token per interval
  std::uint64_t burst_;
  Duration tolerance_;       // (burst - 1) * interval: how far ahead of now the schedule may run
  TimePoint theoretical_{};  // when the bucket is empty again, were no token taken
};

}  // namespace api_broker::core
