#pragma once
// The Retry-After header value (RFC 9110 §10.2.3). No Boost here, so that it can be tested
// and fuzzed on its own.

#include <chrono>
#include <optional>
#include <string_view>

namespace api_broker::http {

// Parses a Retry-After value: delta-seconds, or an HTTP-date (IMF-fixdate, RFC 850 or asctime
// form) turned into seconds after `now`, 0 if it is past. nullopt if it is neither.
std::optional<double> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now);

}  // namespace api_broker::http
