// The request machine's ordinary course: the happy path, and one end per attempt.

#include "api_broker/core/request_machine.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

// --- the happy path ---------------------------------------------------------------------------

TEST(RequestMachine, NewRequestStartsFirstAttempt) {
  Scenario(Policy{}).given({requested}).when(t0).then({StartAttempt{.attempt = 0}});
}

TEST(RequestMachine, AttemptInFlightArmsItsTimeout) {
  Scenario(Policy{.attempt_timeout = 2s})
      .given({requested, at(t0 + 1ms, ApiRequest{.attempt = 0})})
      .when(t0 + 1s)
      .then({ArmTimeout{.attempt = 0, .at = t0 + 1ms + 2s}});
}

TEST(RequestMachine, AttemptPastItsTimeoutIsTimedOut) {
  Scenario(Policy{.attempt_timeout = 2s})
      .given({requested, at(t0, ApiRequest{.attempt = 0})})
      .when(t0 + 2s)
      .then({RecordTimeout{.attempt = 0}})
      .when(t0 + 1h)
      .then({RecordTimeout{.attempt = 0}});
}

TEST(RequestMachine, AnsweredRequestFinishesWithoutResending) {  // the prototype re-sent it
  Scenario(Policy{.retries = 3, .attempt_timeout = 2s})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, response(0))})
      .when(t0 + 24h)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachine, TimeoutWithRetryLeftSchedulesNextAttemptAtBackoff) {
  Scenario(steady(Policy{.retries = 1, .attempt_timeout = 2s, .backoff_initial = 200ms}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s + 200ms}})
      .when(t0 + 2s + 199ms)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s + 200ms}})
      .when(t0 + 2s + 200ms)
      .then({StartAttempt{.attempt = 1}})
      .given({at(t0 + 2s + 201ms, ApiRequest{.attempt = 1})})
      .then({ArmTimeout{.attempt = 1, .at = t0 + 4s + 201ms}});
}

TEST(RequestMachine, RetryIsTimedFromTheEventThatEndedTheAttempt) {
  // The processor read the timeout back late; the backoff still counts from its created time.
  Scenario(steady(Policy{.attempt_timeout = 2s, .backoff_initial = 1s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 3s, ApiTimeout{.attempt = 0})})
      .when(t0 + 3s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 4s}});
}

TEST(RequestMachine, BackoffGrowsBetweenAttemptsUpToItsCap) {
  Scenario scenario(steady(Policy{.retries = 4,
                                  .attempt_timeout = 1s,
                                  .backoff_initial = 1s,
                                  .backoff_multiplier = 2,
                                  .backoff_max = 3s}));
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiTimeout{.attempt = 0})})
      .when(t0 + 1s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s}})
      .given({at(t0 + 2s, ApiRequest{.attempt = 1}), at(t0 + 3s, ApiTimeout{.attempt = 1})})
      .when(t0 + 3s)
      .then({ScheduleAttempt{.attempt = 2, .at = t0 + 5s}})
      .given({at(t0 + 5s, ApiRequest{.attempt = 2}), at(t0 + 6s, ApiTimeout{.attempt = 2})})
      .when(t0 + 6s)
      .then({ScheduleAttempt{.attempt = 3, .at = t0 + 9s}})  // 4s, capped at 3s
      .given({at(t0 + 9s, ApiRequest{.attempt = 3}), at(t0 + 10s, ApiTimeout{.attempt = 3})})
      .when(t0 + 10s)
      .then({ScheduleAttempt{.attempt = 4, .at = t0 + 13s}});
}

TEST(RequestMachine, JitteredRetryIsDueAtBackoffDelay) {
  const Policy policy{.attempt_timeout = 2s, .backoff_initial = 1s, .backoff_jitter = 0.5};
  const Duration delay = backoff_delay(policy, request_id, 1);
  EXPECT_LE(delay, 1s);
  EXPECT_GE(delay, 500ms);
  Scenario(policy)
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s + delay}});
}

// --- one end per attempt ----------------------------------------------------------------------

TEST(RequestMachine, FailureThenTimeoutOfTheSameAttemptRetriesOnce) {
  Scenario(steady(Policy{.retries = 3, .attempt_timeout = 2s, .backoff_initial = 200ms}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503)),
              at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({StartAttempt{.attempt = 1}})  // due at 1.2s, from the failure
      .given({at(t0 + 2s, ApiRequest{.attempt = 1})})
      .then({ArmTimeout{.attempt = 1, .at = t0 + 4s}});
}

TEST(RequestMachine, TimeoutThenFailureOfTheSameAttemptCountsTheTimeout) {
  // A 404 after the timeout changes nothing: the attempt had already ended, retryable.
  Scenario scenario(steady(Policy{.retries = 3, .attempt_timeout = 2s, .backoff_initial = 1s}));
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2500ms, failure(0, 404, "Not Found"))})
      .when(t0 + 2500ms)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 3s}});
  EXPECT_EQ(scenario.state().attempts[0].result, AttemptResult::timed_out);
  EXPECT_TRUE(scenario.state().attempts[0].failure_seen);
}

TEST(RequestMachine, FailureOfAnOlderAttemptChangesNothing) {
  Scenario(steady(Policy{.retries = 3, .attempt_timeout = 2s, .backoff_initial = 0s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2s, ApiRequest{.attempt = 1}), at(t0 + 3s, failure(0, 503))})
      .when(t0 + 3s)
      .then({ArmTimeout{.attempt = 1, .at = t0 + 4s}});
}

TEST(RequestMachine, LateResponseAfterTimeoutIsASuccess) {
  Scenario scenario(steady(Policy{.retries = 3, .attempt_timeout = 2s}));
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2200ms, ApiRequest{.attempt = 1}), at(t0 + 3s, response(0))})
      .when(t0 + 3s)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 2, .attempt = 0}});
  const Attempt& late = scenario.state().attempts[0];
  EXPECT_EQ(late.result, AttemptResult::succeeded);
  EXPECT_TRUE(late.timeout_seen);
  EXPECT_EQ(late.finished_at, t0 + 2s);
  EXPECT_EQ(late.answered_at, t0 + 3s);
}

// Issue 15 #8: the rule for late answers, as README ("The policy") and `configure --help` say.
TEST(RequestMachine, LateResponseDuringTheBackoffIsASuccess) {
  Scenario(steady(Policy{.retries = 1, .attempt_timeout = 2s, .backoff_initial = 10s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 3s, response(0))})
      .when(t0 + 3s)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachine, TimeoutOfTheLastAttemptFailsTheRequestWithoutWaitingForALateAnswer) {
  Scenario(steady(Policy{.retries = 0, .attempt_timeout = 2s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "retries exhausted: attempt 0 timed out"}});
}

TEST(RequestMachine, LateResponseRecordedBeforeTheTerminalEventStillCounts) {
  // The answer raced the decision to fail: read before any terminal event, the request is
  // still open, so it counts.
  Scenario(steady(Policy{.retries = 0, .attempt_timeout = 2s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2001ms, response(0))})
      .when(t0 + 2001ms)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachineAnomalies, LateResponseAfterTheFailureIsNotCounted) {
  Scenario scenario(steady(Policy{.retries = 0, .attempt_timeout = 2s}));
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2s, request_failed(1, "retries exhausted: attempt 0 timed out")),
              at(t0 + 3s, response(0))})
      .when(t0 + 3s)
      .anomalies({"api-response after the terminal event 103 (request failed)"})
      .then({});
  EXPECT_EQ(phase(scenario.state()), Phase::failed);
}

TEST(RequestMachine, ResponseAfterSuccessDoesNotRestart) {
  Scenario(steady(Policy{.retries = 3, .attempt_timeout = 2s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2200ms, ApiRequest{.attempt = 1}), at(t0 + 2500ms, response(1)),
              at(t0 + 3s, response(0)), at(t0 + 4s, ApiTimeout{.attempt = 1})})
      .when(t0 + 1h)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 2, .attempt = 1}});
}

}  // namespace
}  // namespace api_broker::core::test
