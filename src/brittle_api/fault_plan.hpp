#pragma once
// The brittle API's fault injection: what happens to each POST /api (its latency, and whether
// it is answered, fails with 503 or is dropped), drawn from one seeded generator.

#include <cstdint>
#include <random>
#include <string_view>

#include "api_broker/brittle_api/brittle_api.hpp"

namespace api_broker::brittle_api::detail {

enum class Outcome : std::uint8_t { ok, unavailable, dropped, stale };

// The outcome as the calls log writes it: "ok", "503", "dropped" or "stale".
std::string_view to_log_text(Outcome outcome);

// What happens to one POST /api, drawn when it arrives.
struct Plan {
  double latency_seconds;
  Outcome outcome;
};

// Draws the plans of successive calls. Not thread-safe: the server's loop owns it.
class FaultPlanner {
 public:
  // REQUIRES: validate(options) succeeded.
  FaultPlanner(const Options& options, std::uint64_t seed);

  // Always three draws per call, in arrival order, so the sequence does not depend on rates.
  Plan draw();

 private:
  double min_latency_;
  double max_latency_;
  double failure_rate_;
  double silent_failure_rate_;
  std::mt19937_64 random_;
};

}  // namespace api_broker::brittle_api::detail
