#include <gtest/gtest.h>

#include "view_json.hpp"
#include "view_routes.hpp"

namespace api_broker::service {
namespace {

TEST(ParseWait, ReadsSecondsMillisecondsAndMinutesUpToTheBound) {
  EXPECT_EQ(parse_wait("30s").value(), std::chrono::milliseconds(30000));
  EXPECT_EQ(parse_wait("30").value(), std::chrono::milliseconds(30000));
  EXPECT_EQ(parse_wait("250ms").value(), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_wait("0.5s").value(), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_wait("1m").value(), std::chrono::milliseconds(60000));
  EXPECT_EQ(parse_wait("10m").value(), std::chrono::milliseconds(limits::service_wait_max));
  for (const char* bad : {"", "s", "forever", "-1s", "5h", "1e999", "nan", "3 s"}) {
    EXPECT_FALSE(parse_wait(bad)) << bad;
  }
}

TEST(StateName, RoundTripsEveryPhase) {
  for (const auto phase : {core::Phase::waiting, core::Phase::in_flight, core::Phase::backing_off,
                           core::Phase::succeeded, core::Phase::failed}) {
    EXPECT_EQ(parse_state(state_name(phase)), phase);
  }
  EXPECT_FALSE(parse_state("done"));
}

TEST(ParseOrder, OldestAndNewestOnly) {
  EXPECT_EQ(parse_order("oldest"), view::ListOrder::oldest_first);
  EXPECT_EQ(parse_order("newest"), view::ListOrder::newest_first);
  for (const char* bad : {"", "Newest", "desc", "newest "}) EXPECT_FALSE(parse_order(bad)) << bad;
}

}  // namespace
}  // namespace api_broker::service
