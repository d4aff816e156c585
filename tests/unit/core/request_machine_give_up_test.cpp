// When the request machine gives up or waits: retries exhausted, statuses, Retry-After and
// the deadline.

#include "api_broker/core/request_machine.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

#include "api_broker/limits.hpp"
#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

// --- giving up --------------------------------------------------------------------------------

TEST(RequestMachine, RetriesExhaustedFails) {
  Scenario(steady(Policy{.retries = 1, .attempt_timeout = 2s, .backoff_initial = 0s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0}),
              at(t0 + 2s, ApiRequest{.attempt = 1}), at(t0 + 4s, ApiTimeout{.attempt = 1})})
      .when(t0 + 4s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 2,
                    .reason = "retries exhausted: attempt 1 timed out"}});
}

TEST(RequestMachine, NoRetriesFailsAfterTheFirstFailure) {
  Scenario(Policy{.retries = 0})
      .given({requested, at(t0, ApiRequest{.attempt = 0}),
              at(t0 + 1s, failure(0, 503, "Service Unavailable", 1))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "retries exhausted: attempt 0 failed with HTTP 503: Service "
                              "Unavailable"}});
}

TEST(RequestMachine, ReasonDoesNotRepeatTheStatus) {  // issue 15: "HTTP 503: HTTP 503"
  Scenario(Policy{.retries = 0})
      .given(
          {requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503, "HTTP 503"))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "retries exhausted: attempt 0 failed with HTTP 503"}});
  Scenario(Policy{.retries = 3})
      .given(
          {requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 404, "HTTP 404"))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed with HTTP 404, which is not retried"}});
}

TEST(RequestMachine, NoAnswerFailureNamesNoStatus) {
  Scenario(Policy{.retries = 0})
      .given({requested, at(t0, ApiRequest{.attempt = 0}),
              at(t0 + 1s, failure(0, 0, "connection reset"))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "retries exhausted: attempt 0 failed: connection reset"}});
}

TEST(RequestMachine, NonRetryableStatusFailsAtOnce) {
  Scenario(Policy{.retries = 3})
      .given(
          {requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 404, "Not Found"))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed with HTTP 404, which is not retried: Not Found"}});
}

TEST(RequestMachine, RetryableStatusesRetry) {
  for (const std::int32_t status : {0, 408, 429, 500, 503}) {
    SCOPED_TRACE(status);
    Scenario(steady(Policy{.retries = 3, .backoff_initial = 1s}))
        .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, status))})
        .when(t0 + 1s)
        .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s}});
  }
}

TEST(RequestMachine, OtherStatusesDoNotRetry) {
  for (const std::int32_t status : {400, 401, 403, 409, 422, 301}) {
    SCOPED_TRACE(status);
    const std::string reason =
        "attempt 0 failed with HTTP " + std::to_string(status) + ", which is not retried";
    Scenario(Policy{.retries = 3})
        .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, status))})
        .when(t0 + 1s)
        .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = reason}});
  }
}

TEST(RequestMachine, NoAttemptTimeoutArmsNothing) {
  Scenario(Policy{.attempt_timeout = 0s})
      .given({requested, at(t0, ApiRequest{.attempt = 0})})
      .when(t0 + 24h * 365)
      .then({});
}

// --- Retry-After ------------------------------------------------------------------------------

TEST(RequestMachine, RetryAfterSetsTheDelay) {
  Scenario(steady(Policy{.backoff_initial = 200ms}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 429, "", 5))})
      .when(t0 + 1s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 6s}});
}

TEST(RequestMachine, RetryAfterIsCapped) {
  Scenario(steady(Policy{.backoff_initial = 200ms}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503, "", 1e9))})
      .when(t0 + 1s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 1s + limits::retry_after_max}});
}

TEST(RequestMachine, OddRetryAfterFallsBackToBackoff) {
  for (const double odd : {-5.0, std::numeric_limits<double>::quiet_NaN()}) {
    Scenario(steady(Policy{.backoff_initial = 200ms}))
        .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503, "", odd))})
        .when(t0 + 1s)
        .then({ScheduleAttempt{.attempt = 1, .at = t0 + 1200ms}});
  }
}

// --- deadline ---------------------------------------------------------------------------------

TEST(RequestMachine, DeadlineClipsTheAttemptTimeout) {
  Scenario(Policy{.attempt_timeout = 10s, .deadline = 5s})
      .given({requested, at(t0 + 1s, ApiRequest{.attempt = 0})})
      .when(t0 + 1s)
      .then({ArmTimeout{.attempt = 0, .at = t0 + 5s}})
      .when(t0 + 5s)
      .then({RecordTimeout{.attempt = 0}});
}

TEST(RequestMachine, DeadlineTimesOutAnAttemptWithoutTimeout) {
  Scenario(Policy{.attempt_timeout = 0s, .deadline = 5s})
      .given({requested, at(t0, ApiRequest{.attempt = 0})})
      .when(t0)
      .then({ArmTimeout{.attempt = 0, .at = t0 + 5s}});
}

TEST(RequestMachine, DeadlineStopsRetries) {
  // The retry would be due at 4s, past the 3s deadline: give up now rather than wait for it.
  Scenario(steady(Policy{.attempt_timeout = 2s, .backoff_initial = 2s, .deadline = 3s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = "deadline exceeded"}});
}

TEST(RequestMachine, RetryDueExactlyAtTheDeadlineIsNotStarted) {
  // It would be timed out the moment it started.
  Scenario(steady(Policy{.attempt_timeout = 2s, .backoff_initial = 1s, .deadline = 3s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = "deadline exceeded"}});
}

TEST(RequestMachine, DeadlinePassedWhileARetryWasDue) {
  // Due at 2.5s, before the deadline, but nobody decided until 4s (a processor restart).
  Scenario(steady(Policy{.attempt_timeout = 2s, .backoff_initial = 500ms, .deadline = 3s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 2s, ApiTimeout{.attempt = 0})})
      .when(t0 + 2s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2500ms}})
      .when(t0 + 4s)
      .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = "deadline exceeded"}});
}

TEST(RequestMachine, DeadlinePassedBeforeTheFirstAttempt) {
  Scenario(Policy{.deadline = 1s})
      .given({requested})
      .when(t0 + 999ms)
      .then({StartAttempt{.attempt = 0}})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed, .attempts = 0, .reason = "deadline exceeded"}});
}

TEST(RequestMachine, RetriesExhaustedWinsOverDeadline) {
  Scenario(Policy{.retries = 0, .deadline = 1s})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiTimeout{.attempt = 0})})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "retries exhausted: attempt 0 timed out"}});
}

}  // namespace
}  // namespace api_broker::core::test
