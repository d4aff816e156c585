// The token bucket on a fake clock: given a rate and a burst, when calls ask at given times,
// then which may start and when the next token comes.

#include "api_broker/core/token_bucket.hpp"

#include <gtest/gtest.h>

namespace api_broker::core {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};

TEST(TokenBucket, AQuietBucketLetsItsBurstGoAtOnceThenOnePerInterval) {
  TokenBucket bucket(10, 3);  // given 10/s, burst 3
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.try_take(t0)) << i;
  EXPECT_FALSE(bucket.try_take(t0));  // then the fourth waits
  EXPECT_EQ(bucket.next_token_at(t0), t0 + 100ms);
  EXPECT_FALSE(bucket.try_take(t0 + 99ms));
  EXPECT_TRUE(bucket.try_take(t0 + 100ms));
  EXPECT_FALSE(bucket.try_take(t0 + 100ms));
}

TEST(TokenBucket, TheDefaultBurstIsTheRateAndAtLeastOne) {
  EXPECT_EQ(TokenBucket(20, 0).burst(), 20u);
  EXPECT_EQ(TokenBucket(0.5, 0).burst(), 1u);
  EXPECT_EQ(TokenBucket(0.5, 0).interval(), 2s);
  EXPECT_EQ(TokenBucket(5, 2.9).burst(), 2u);  // a fraction of a token is no token
}

TEST(TokenBucket, AQuietSpellRefillsOnlyUpToTheBurst) {
  TokenBucket bucket(10, 2);
  EXPECT_TRUE(bucket.try_take(t0));
  const TimePoint later = t0 + 1h;
  EXPECT_EQ(bucket.next_token_at(later), later);
  EXPECT_TRUE(bucket.try_take(later));
  EXPECT_TRUE(bucket.try_take(later));
  EXPECT_FALSE(bucket.try_take(later));
}

// The property the end-to-end test measures: over any span T, at most burst + rate * T calls.
TEST(TokenBucket, CallsAsFastAsAllowedStayWithinTheBoundOverARun) {
  TokenBucket bucket(50, 5);
  TimePoint now = t0;
  int taken = 0;
  while (now <= t0 + 10s) {  // the span [t0, t0 + 10 s], both ends in
    if (bucket.try_take(now)) {
      ++taken;
    } else {
      now = bucket.next_token_at(now);
    }
  }
  EXPECT_EQ(taken, 5 + 50 * 10);
}

TEST(TokenBucket, ExtremeSettingsAreHeldWithinBounds) {
  TokenBucket slow(1e-9, 1e12);
  EXPECT_EQ(slow.interval(), 1000s);
  EXPECT_EQ(slow.burst(), 1'000'000u);
  TokenBucket fast(1e12, 0);
  EXPECT_EQ(fast.interval(), 1us);
  EXPECT_TRUE(fast.try_take(t0));
}

}  // namespace
}  // namespace api_broker::core
