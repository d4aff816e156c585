#pragma once
// The brittle API's own record of a chaos run: its calls log (one JSON line per POST /api:
// key, attempt named by the Api-Broker-Attempt header, outcome, arrival time) and its
// counters (GET /stats, GET /stats/keys: calls per Idempotency-Key, counted on arrival).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/result.hpp"

namespace api_broker::chaos {

struct ApiCall {
  std::string key;
  std::optional<std::uint32_t> attempt;
  std::string outcome;  // ok | 503 | dropped
  std::int64_t received_us = 0;
  std::int64_t answered_us = 0;  // when the outcome was applied
};

// Reads the calls log at `path`. Errc::corrupt names a line that is not a call.
Result<std::vector<ApiCall>> read_calls_log(const std::string& path);

// GET http://127.0.0.1:<port><target>: the body of a 200 answer, else an error.
Result<std::string> http_get(int port, const std::string& target);

// Calls the API is still serving (GET /stats, "in_flight").
Result<std::uint64_t> calls_in_flight(int port);
// Calls per Idempotency-Key (GET /stats/keys).
Result<std::map<std::string, std::uint64_t>> calls_per_key(int port);

}  // namespace api_broker::chaos
