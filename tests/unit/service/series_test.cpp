// Series: given requests submitted and finished, then the per-second window.

#include "series.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace api_broker::service::test {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + std::chrono::seconds(1'800'000'000);

TEST(Series, CountsEachSecondAndFillsTheGaps) {
  Series series(5);
  series.submitted(t0);
  series.submitted(t0 + 300ms);
  series.finished(t0 + 2s, true, 1500ms);
  series.finished(t0 + 2s + 10ms, false, 500ms);

  const auto window = series.window(t0 + 3s);
  ASSERT_EQ(window.size(), 5U);
  EXPECT_EQ(window[0].second, 1'800'000'000 - 1);
  EXPECT_EQ(window[1].submitted, 2U);
  EXPECT_EQ(window[2], SeriesPoint{.second = 1'800'000'001});
  EXPECT_EQ(window[3].succeeded, 1U);
  EXPECT_EQ(window[3].failed, 1U);
  EXPECT_DOUBLE_EQ(window[3].latency_sum, 2.0);
  EXPECT_DOUBLE_EQ(window[3].latency_max, 1.5);
  EXPECT_EQ(window[4].submitted, 0U);
}

TEST(Series, KeepsOnlyTheWindow) {
  Series series(3);
  series.submitted(t0);
  series.submitted(t0 + 10s);
  series.submitted(t0 + 1s);  // older than the window: dropped
  const auto window = series.window(t0 + 10s);
  ASSERT_EQ(window.size(), 3U);
  EXPECT_EQ(window[2].submitted, 1U);
  EXPECT_EQ(window[0].submitted + window[1].submitted, 0U);
}

TEST(Series, EventsOutOfOrderWithinTheWindowLandInTheirSecond) {
  Series series(10);
  series.submitted(t0 + 5s);
  series.submitted(t0 + 2s);
  const auto window = series.window(t0 + 9s);
  EXPECT_EQ(window[2].submitted, 1U);
  EXPECT_EQ(window[5].submitted, 1U);
}

}  // namespace
}  // namespace api_broker::service::test
