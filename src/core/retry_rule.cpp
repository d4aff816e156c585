#include "api_broker/core/retry_rule.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/core.h>

#include "api_broker/events/codec.hpp"

namespace api_broker::core {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

Result<void> bad(std::string_view item, std::string_view why) {
  return fail(Errc::invalid_input,
              fmt::format("retry_on: '{}' {}; give status codes (100-599), classes (1xx-5xx), 0 "
                          "(no answer) or none, separated by commas",
                          events::printable(item), why));
}

// Folds one item ("503", "5xx", "0") into `rule`.
Result<void> add_item(RetryRule& rule, std::string_view item) {
  if (item.size() == 3 && (item[1] == 'x' || item[1] == 'X') &&
      (item[2] == 'x' || item[2] == 'X')) {
    if (item[0] < '1' || item[0] > '5') return bad(item, "is not a class of statuses");
    const auto bit = static_cast<std::uint8_t>(1U << static_cast<unsigned>(item[0] - '0'));
    if ((rule.classes & bit) != 0) return bad(item, "is given twice");
    rule.classes = static_cast<std::uint8_t>(rule.classes | bit);
    return {};
  }
  unsigned code = 0;
  const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), code);
  if (item.empty() || error != std::errc{} || end != item.data() + item.size()) {
    return bad(item, "is not a status code");
  }
  if (code == 0 && item == "0") {
    if (rule.no_answer) return bad(item, "is given twice");
    rule.no_answer = true;
    return {};
  }
  if (code < 100 || code > 599 || item.size() != 3) return bad(item, "is not a status code");
  const auto first = rule.codes.begin();
  const auto last = first + rule.codes_count;
  if (std::find(first, last, code) != last) return bad(item, "is given twice");
  if (rule.codes_count == retry_rule_codes_max) {
    return bad(item, fmt::format("is one code too many (at most {})", retry_rule_codes_max));
  }
  rule.codes[rule.codes_count++] = static_cast<std::uint16_t>(code);
  return {};
}

}  // namespace

Result<RetryRule> parse_retry_rule(std::string_view text) {
  if (trim(text).empty()) return RetryRule{};
  RetryRule rule{.no_answer = false, .classes = 0, .codes_count = 0, .codes = {}};
  if (trim(text) == "none") return rule;
  while (true) {
    const std::size_t comma = text.find(',');
    if (auto added = add_item(rule, trim(text.substr(0, comma))); !added) {
      return fail(std::move(added).error());
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return rule;
}

std::string to_string(const RetryRule& rule) {
  std::string text;
  auto add = [&](const std::string& item) { text += text.empty() ? item : "," + item; };
  if (rule.no_answer) add("0");
  for (std::size_t i = 0; i < rule.codes_count; ++i) add(std::to_string(rule.codes[i]));
  for (unsigned n = 1; n <= 5; ++n) {
    if ((rule.classes & (1U << n)) != 0) add(fmt::format("{}xx", n));
  }
  return text.empty() ? "none" : text;
}

bool is_retryable(const events::ApiFailure& failure, const RetryRule& rule) {
  if (failure.permanent) return false;
  const std::int32_t status = failure.status;
  if (status == 0) return rule.no_answer;
  if (status < 100 || status > 599) return false;
  if ((rule.classes & (1U << static_cast<unsigned>(status / 100))) != 0) return true;
  const auto last = rule.codes.begin() + rule.codes_count;
  return std::find(rule.codes.begin(), last, status) != last;
}

}  // namespace api_broker::core
