#include <gtest/gtest.h>

#include <chrono>

#include "api_broker/http/retry_after.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::November;

// 1994-11-06 08:49:30 UTC: seven seconds before the RFC's example date.
const auto now = std::chrono::sys_days{std::chrono::year{1994} / November / 6} + 8h + 49min + 30s;

TEST(ParseRetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("7", now), 7.0);
  EXPECT_EQ(parse_retry_after("0", now), 0.0);
  EXPECT_EQ(parse_retry_after(" 120\t", now), 120.0);
  EXPECT_EQ(parse_retry_after("99999999999999999999", now), 1e20);
}

TEST(ParseRetryAfter, HttpDateInEachForm) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 7.0);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 7.0);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 7.0);
  EXPECT_EQ(parse_retry_after("Mon, 07 Nov 1994 08:49:30 GMT", now), 86400.0);
}

TEST(ParseRetryAfter, PastDateIsZero) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:29 GMT", now), 0.0);
  EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), 0.0);
}

// Found by fuzz/retry_after.cpp: a date outside 1678..2262 overflowed the nanosecond
// time_point it was subtracted in (undefined behaviour; a sanitizer build aborted).
TEST(ParseRetryAfter, DatesOfAnyFourDigitYearDoNotOverflow) {
  EXPECT_EQ(parse_retry_after("Sun Nov  2 08:49:37 0994", now), 0.0);
  EXPECT_EQ(parse_retry_after("Sat, 01 Jan 0000 00:00:00 GMT", now), 0.0);
  const auto far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now);
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(*far, 253402300799.0 - 784111770.0);
}

TEST(ParseRetryAfter, AnythingElseIsAbsent) {
  for (const char* text : {"", " ", "-1", "1.5", "+3", "7s", "soon", "Sun, 06 Nov 1994",
                           "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT",
                           "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
                           "Sun, 06 Nov 1994 08:49:37 GMT extra"}) {
    EXPECT_FALSE(parse_retry_after(text, now).has_value()) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace api_broker::http
