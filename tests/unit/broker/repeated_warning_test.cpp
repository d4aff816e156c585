// RepeatedWarning: an outage of the store gives a handful of log lines, not one per try.

#include "api_broker/broker/repeated_warning.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;

class RepeatedWarningTest : public ::testing::Test {
 protected:
  std::vector<std::string> lines;
  RepeatedWarning warning{"cannot commit events",
                          [this](const std::string& line) { lines.push_back(line); }, 30s};
  RepeatedWarning::Clock::time_point t0{std::chrono::seconds(1000)};
};

// Issue 15: a 2-3 s PostgreSQL stop wrote about 43,000 lines.
TEST_F(RepeatedWarningTest, AnOutageIsToldWhenItStartsNowAndThenAndWhenItClears) {
  for (int i = 0; i < 1000; ++i) warning.happened("connection refused", t0 + i * 10ms);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "cannot commit events: connection refused (retrying; told again when it clears)");
  warning.happened("connection refused", t0 + 31s);  // a summary after `every`
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1],
            "cannot commit events: still failing after 31 s, 1000 more times: connection refused");
  warning.cleared(t0 + 32s);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "cannot commit events: recovered after 1001 failed tries over 32.000 s");
  EXPECT_EQ(warning.count(), 0u);
}

TEST_F(RepeatedWarningTest, ClearingWhatNeverHappenedSaysNothingAndTheNextOutageIsToldAgain) {
  warning.cleared(t0);
  EXPECT_TRUE(lines.empty());
  warning.happened("timeout", t0);
  warning.cleared(t0 + 1s);
  warning.happened("refused", t0 + 2s);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "cannot commit events: refused (retrying; told again when it clears)");
}

}  // namespace
}  // namespace api_broker::broker
