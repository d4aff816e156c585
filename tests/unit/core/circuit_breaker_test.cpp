// The circuit breaker, given/when/then on a fake clock: given its settings and the outcomes
// so far, when a call asks to start or an outcome comes, then its phase and the transitions
// the processor appends.

#include "api_broker/core/circuit_breaker.hpp"

#include <gtest/gtest.h>

namespace api_broker::core {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};
constexpr bool failed = true;
constexpr bool ok = false;
constexpr bool probe = true;
constexpr bool not_probe = false;

CircuitBreaker after_run(BreakerSettings settings, int failures) {
  CircuitBreaker breaker(settings);
  for (int i = 0; i < failures; ++i) (void)breaker.on_outcome(failed, not_probe, t0);
  return breaker;
}

TEST(CircuitBreaker, OpensAfterItsRunOfFailures) {
  CircuitBreaker breaker = after_run({.failures = 3}, 2);
  EXPECT_EQ(breaker.phase(), BreakerPhase::closed);
  const auto opened = breaker.on_outcome(failed, not_probe, t0);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->to, BreakerPhase::open);
  EXPECT_EQ(opened->reason, "3 retryable failures in a row");
  EXPECT_FALSE(breaker.allows());
}

TEST(CircuitBreaker, ASuccessBreaksTheRun) {
  CircuitBreaker breaker = after_run({.failures = 3}, 2);
  EXPECT_FALSE(breaker.on_outcome(ok, not_probe, t0));
  EXPECT_FALSE(breaker.on_outcome(failed, not_probe, t0));
  EXPECT_FALSE(breaker.on_outcome(failed, not_probe, t0));
  EXPECT_EQ(breaker.phase(), BreakerPhase::closed);
}

TEST(CircuitBreaker, OpensOnTheFailureRatioOnlyWithEnoughCallsInTheWindow) {
  CircuitBreaker breaker({.ratio = 0.5, .window = 10s});
  for (int i = 0; i < 4; ++i) {  // 8 calls, 4 failed: too few calls to judge
    EXPECT_FALSE(breaker.on_outcome(failed, not_probe, t0));
    EXPECT_FALSE(breaker.on_outcome(ok, not_probe, t0));
  }
  EXPECT_FALSE(breaker.on_outcome(ok, not_probe, t0 + 1s));            // 9 calls, 4 failed
  const auto opened = breaker.on_outcome(failed, not_probe, t0 + 1s);  // 10 calls, 5 failed
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->reason, "failure ratio 0.50 over the last 10 s (5 of 10 calls)");
}

TEST(CircuitBreaker, OutcomesOlderThanTheWindowDoNotCount) {
  CircuitBreaker breaker({.ratio = 0.5, .window = 10s});
  for (int i = 0; i < 9; ++i) (void)breaker.on_outcome(failed, not_probe, t0);
  // Ten seconds later those nine are out of the window: one failure among one call.
  EXPECT_FALSE(breaker.on_outcome(failed, not_probe, t0 + 10s));
  EXPECT_EQ(breaker.phase(), BreakerPhase::closed);
}

TEST(CircuitBreaker, LetsOneProbeThroughAfterThePause) {
  CircuitBreaker breaker = after_run({.failures = 1, .pause = 5s}, 1);
  EXPECT_EQ(breaker.half_open_at(), t0 + 5s);
  EXPECT_FALSE(breaker.on_time(t0 + 4s));
  EXPECT_FALSE(breaker.allows());
  const auto half = breaker.on_time(t0 + 5s);
  ASSERT_TRUE(half);
  EXPECT_EQ(half->to, BreakerPhase::half_open);
  EXPECT_TRUE(breaker.allows());
  EXPECT_TRUE(breaker.on_start());  // the probe
  EXPECT_FALSE(breaker.allows());   // and nothing beside it
}

TEST(CircuitBreaker, ASucceedingProbeClosesIt) {
  CircuitBreaker breaker = after_run({.failures = 1, .pause = 5s}, 1);
  (void)breaker.on_time(t0 + 5s);
  ASSERT_TRUE(breaker.on_start());
  // A call started before it opened answers: it does not decide.
  EXPECT_FALSE(breaker.on_outcome(ok, not_probe, t0 + 6s));
  EXPECT_EQ(breaker.phase(), BreakerPhase::half_open);
  const auto closed = breaker.on_outcome(ok, probe, t0 + 6s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(*closed, (BreakerTransition{.to = BreakerPhase::closed, .reason = "probe succeeded"}));
  EXPECT_TRUE(breaker.allows());
  EXPECT_FALSE(breaker.on_start());  // a plain call again
}

TEST(CircuitBreaker, AFailingProbeOpensItForAnotherPause) {
  CircuitBreaker breaker = after_run({.failures = 1, .pause = 5s}, 1);
  (void)breaker.on_time(t0 + 5s);
  ASSERT_TRUE(breaker.on_start());
  const auto opened = breaker.on_outcome(failed, probe, t0 + 7s);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->to, BreakerPhase::open);
  EXPECT_EQ(breaker.half_open_at(), t0 + 12s);
}

TEST(CircuitBreaker, OffItNeverOpens) {
  CircuitBreaker breaker = after_run({}, 100);
  EXPECT_EQ(breaker.phase(), BreakerPhase::closed);
  EXPECT_TRUE(breaker.allows());
}

TEST(CircuitBreaker, RestoredFromTheLogItKeepsThePauseOfTheEarlierRun) {
  CircuitBreaker breaker({.failures = 2, .pause = 5s});
  breaker.restore(BreakerPhase::open, t0);
  EXPECT_FALSE(breaker.allows());
  EXPECT_FALSE(breaker.on_time(t0 + 1s));
  EXPECT_TRUE(breaker.on_time(t0 + 5s));
}

}  // namespace
}  // namespace api_broker::core
