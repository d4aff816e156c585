// Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date (§5.6.7), whose recipients
// also accept the obsolete RFC 850 and asctime forms.

#include "api_broker/http/retry_after.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>
#include <system_error>

namespace api_broker::http {
namespace {

constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> day_names = {"Mon", "Tue", "Wed", "Thu",
                                                       "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_day_names = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

// A left-to-right reader over the value; every step fails without consuming on a mismatch.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  [[nodiscard]] bool done() const { return pos_ == text_.size(); }

  bool literal(std::string_view expected) {
    if (text_.substr(pos_, expected.size()) != expected) return false;
    pos_ += expected.size();
    return true;
  }

  // Exactly `count` digits.
  bool number(std::size_t count, int& out) {
    if (text_.size() - pos_ < count) return false;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    out = value;
    return true;
  }

  template <std::size_t n>
  bool one_of(const std::array<std::string_view, n>& names, int* index = nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (literal(names[i])) {
        if (index != nullptr) *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // HH:MM:SS
  bool time_of_day(int& hour, int& minute, int& second) {
    return number(2, hour) && literal(":") && number(2, minute) && literal(":") &&
           number(2, second);
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

struct DateParts {
  int year = 0;
  int month = 0;  // 0-based
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

// Sun, 06 Nov 1994 08:49:37 GMT
bool parse_imf_fixdate(std::string_view text, DateParts& d) {
  Cursor in(text);
  return in.one_of(day_names) && in.literal(", ") && in.number(2, d.day) && in.literal(" ") &&
         in.one_of(month_names, &d.month) && in.literal(" ") && in.number(4, d.year) &&
         in.literal(" ") && in.time_of_day(d.hour, d.minute, d.second) && in.literal(" GMT") &&
         in.done();
}

// Sunday, 06-Nov-94 08:49:37 GMT
bool parse_rfc850(std::string_view text, DateParts& d) {
  Cursor in(text);
  int year = 0;
  if (!(in.one_of(long_day_names) && in.literal(", ") && in.number(2, d.day) && in.literal("-") &&
        in.one_of(month_names, &d.month) && in.literal("-") && in.number(2, year) &&
        in.literal(" ") && in.time_of_day(d.hour, d.minute, d.second) && in.literal(" GMT") &&
        in.done())) {
    return false;
  }
  // RFC 9110 wants "50 years in the future means the past century"; a fixed pivot is enough
  // for a header that no current server sends.
  d.year = year < 70 ? 2000 + year : 1900 + year;
  return true;
}

// Sun Nov  6 08:49:37 1994
bool parse_asctime(std::string_view text, DateParts& d) {
  Cursor in(text);
  if (!(in.one_of(day_names) && in.literal(" ") && in.one_of(month_names, &d.month) &&
        in.literal(" "))) {
    return false;
  }
  if (!(in.literal(" ") ? in.number(1, d.day) : in.number(2, d.day))) return false;
  return in.literal(" ") && in.time_of_day(d.hour, d.minute, d.second) && in.literal(" ") &&
         in.number(4, d.year) && in.done();
}

// Whole seconds: a system_clock::time_point counts nanoseconds, which overflow outside the
// years 1678 to 2262, and a date may say any year from 0 to 9999.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text) {
  DateParts d;
  if (!parse_imf_fixdate(text, d) && !parse_rfc850(text, d) && !parse_asctime(text, d)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{d.year},
                                         std::chrono::month{static_cast<unsigned>(d.month + 1)},
                                         std::chrono::day{static_cast<unsigned>(d.day)}};
  if (!date.ok() || d.hour > 23 || d.minute > 59 || d.second > 60) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::hours{d.hour} + std::chrono::minutes{d.minute} +
         std::chrono::seconds{d.second};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    double seconds = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (parsed.ec != std::errc{} || parsed.ptr != value.data() + value.size()) return std::nullopt;
    return seconds;
  }
  const auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  const auto now_seconds = std::chrono::floor<std::chrono::seconds>(now);
  const double wait = static_cast<double>((*date - now_seconds).count()) -
                      std::chrono::duration<double>(now - now_seconds).count();
  return wait > 0 ? wait : 0.0;
}

}  // namespace api_broker::http
