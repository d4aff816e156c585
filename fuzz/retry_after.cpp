// Any Retry-After value: parse_retry_after never crashes and gives a finite, non-negative
// number of seconds or nothing. An HTTP-date made from any calendar time, in each of the three
// forms, reads back as exactly its distance from `now`; delta-seconds read back as the number.

#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "api_broker/assert.hpp"
#include "api_broker/http/retry_after.hpp"

using namespace api_broker;

namespace {

const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const long_days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};
const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  using std::chrono::system_clock;
  const system_clock::time_point now{std::chrono::seconds(784111777)};  // 1994-11-06 08:49:37

  // A date from 1970 to 2069 (the two-digit RFC 850 years pivot at 70).
  const auto at = in.ConsumeIntegralInRange<std::int64_t>(0, 3155759999);
  const std::time_t t = static_cast<std::time_t>(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int form = in.ConsumeIntegralInRange(0, 2);
  std::string date;
  if (form == 0) {
    date = fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", days[tm.tm_wday], tm.tm_mday,
                       months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else if (form == 1) {
    date =
        fmt::format("{}, {:02}-{}-{:02} {:02}:{:02}:{:02} GMT", long_days[tm.tm_wday], tm.tm_mday,
                    months[tm.tm_mon], (tm.tm_year + 1900) % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    date = fmt::format("{} {} {:>2} {:02}:{:02}:{:02} {:04}", days[tm.tm_wday], months[tm.tm_mon],
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
  }
  const auto wait = http::parse_retry_after(date, now);
  API_BROKER_ASSERT(wait.has_value());
  const double expected = std::max<double>(0, static_cast<double>(at - 784111777));
  API_BROKER_ASSERT(*wait == expected);

  const auto delta = in.ConsumeIntegral<std::uint32_t>();
  API_BROKER_ASSERT(http::parse_retry_after(std::to_string(delta), now) ==
                    static_cast<double>(delta));

  const std::string value = in.ConsumeRemainingBytesAsString();
  const auto parsed = http::parse_retry_after(value, now);
  if (parsed) {
    API_BROKER_ASSERT(std::isfinite(*parsed));
    API_BROKER_ASSERT(*parsed >= 0);
  }
  return 0;
}
