#pragma once
// Which failed attempts are worth retrying: a per-target setting (events::Target::retry_on),
// "0,408,429,5xx" by default. Pure values and functions.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_broker/events/events.hpp"
#include "api_broker/result.hpp"

namespace api_broker::core {

// Status codes a rule may name one by one (classes such as 5xx are apart).
inline constexpr std::size_t retry_rule_codes_max = 16;

// A value of fixed size (no allocation): every request state holds one. The default is the
// prototype's rule: no answer (status 0), 408, 429 and every 5xx.
struct RetryRule {
  bool no_answer = true;            // status 0: connection error, dropped, timeout
  std::uint8_t classes = 1U << 5U;  // bit n (1 to 5): every status nxx
  std::uint8_t codes_count = 2;     // codes[0 .. codes_count)
  std::array<std::uint16_t, retry_rule_codes_max> codes{408, 429};  // 100 to 599
  friend bool operator==(const RetryRule&, const RetryRule&) = default;
};

// Parses a comma-separated list of status codes (100-599), classes (1xx-5xx, x in either
// case) and 0 (no answer), or "none" (retry nothing); "" is the default rule. Spaces around
// items are allowed. Errc::invalid_input with a one-line message for anything else, an item
// given twice, or more than retry_rule_codes_max codes.
Result<RetryRule> parse_retry_rule(std::string_view text);

// The rule written back in its canonical form ("0,408,429,5xx"; "none" retries nothing).
std::string to_string(const RetryRule& rule);

// Whether `failure` is retried under `rule`. A failure marked permanent never is.
bool is_retryable(const events::ApiFailure& failure, const RetryRule& rule);

}  // namespace api_broker::core
