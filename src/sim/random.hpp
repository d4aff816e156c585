#pragma once
// The simulator's one source of randomness: a seeded SplitMix64 generator. Everything a run
// draws comes from it, in a fixed order, so one seed gives one run exactly, on any platform
// (integer arithmetic only; doubles are built from 53 random bits).

#include <chrono>
#include <cstdint>

#include "api_broker/time.hpp"

namespace api_broker::sim {

class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [low, high]. REQUIRES: low <= high.
  std::uint64_t between(std::uint64_t low, std::uint64_t high) {
    return low + next() % (high - low + 1);
  }
  bool chance(double p) { return unit() < p; }
  // A duration uniform in [low, high].
  Duration between(Duration low, Duration high) {
    return Duration(static_cast<Duration::rep>(between(static_cast<std::uint64_t>(low.count()),
                                                       static_cast<std::uint64_t>(high.count()))));
  }
  // A new generator whose draws do not depend on how many draws this one makes later.
  Random fork() { return Random(next()); }

 private:
  std::uint64_t state_;
};

}  // namespace api_broker::sim
