// The request machine's cancels and rounds (issue 12): request-cancelled ends an unfinished
// request, request-retried gives a failed one a new round of attempts.

#include <gtest/gtest.h>

#include <chrono>

#include "api_broker/core/request_machine.hpp"
#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

using events::RequestCancelled;
using events::RequestRetried;

// Two attempts (retries 1, 1 s timeout, 200 ms backoff), both failed with 503, then the
// terminal event: ids 100 (request) to 105 (request-failed).
std::vector<Given> failed_round() {
  return {requested,
          at(t0, ApiRequest{.attempt = 0}),
          at(t0 + 1s, failure(0, 503)),
          at(t0 + 1200ms, ApiRequest{.attempt = 1}),
          at(t0 + 2s, failure(1, 503)),
          at(t0 + 2s, request_failed(2, "retries exhausted: attempt 1 failed with HTTP 503"))};
}

Policy two_attempts() { return steady(Policy{.retries = 1, .attempt_timeout = 1s}); }

// --- cancel -----------------------------------------------------------------------------------

TEST(RequestMachineCancel, CancelOfAWaitingRequestFailsItWithTheReason) {
  Scenario(two_attempts())
      .given({requested, at(t0, RequestCancelled{.reason = "by the API"})})
      .when(t0)
      .then({Finish{.outcome = Outcome::failed, .reason = "cancelled: by the API"}});
}

TEST(RequestMachineCancel, CancelWithoutAReasonSaysCancelled) {
  Scenario scenario(two_attempts());
  scenario.given({requested, at(t0, RequestCancelled{})})
      .when(t0)
      .then({Finish{.outcome = Outcome::failed, .reason = "cancelled"}});
  EXPECT_EQ(phase(scenario.state()), Phase::failed);
  EXPECT_TRUE(cannot_cancel(scenario.state()).has_value());
}

TEST(RequestMachineCancel, CancelDuringTheBackoffStartsNoFurtherAttempt) {
  Scenario(two_attempts())
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503)),
              at(t0 + 1100ms, RequestCancelled{.reason = "no longer needed"})})
      .when(t0 + 5s)  // long after attempt 1 was due
      .then({Finish{
          .outcome = Outcome::failed, .attempts = 1, .reason = "cancelled: no longer needed"}});
}

TEST(RequestMachineCancel, AnAnswerReadAfterTheCancelNoLongerCounts) {
  Scenario scenario(two_attempts());
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 100ms, RequestCancelled{}),
              at(t0 + 200ms, response(0))})
      .when(t0 + 200ms)
      .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = "cancelled"}});
  EXPECT_EQ(scenario.state().attempts[0].result, AttemptResult::succeeded);  // recorded
  EXPECT_FALSE(scenario.state().succeeded_attempt.has_value());
}

TEST(RequestMachineCancel, ACancelAfterAnAnswerChangesNothing) {
  Scenario(two_attempts())
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 100ms, response(0)),
              at(t0 + 200ms, RequestCancelled{})})
      .when(t0 + 200ms)
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachineCancel, AnAttemptDecidedBeforeTheCancelIsRecordedButItsAnswerIsAnAnomaly) {
  Scenario(two_attempts())
      .given({requested, at(t0, RequestCancelled{}), at(t0, ApiRequest{.attempt = 0}),
              at(t0 + 100ms, failure(0, 503))})
      .anomalies({"api-failure for attempt 0, started after request-cancelled 101: a call "
                  "after the cancel"})
      .when(t0 + 100ms)
      .then({Finish{.outcome = Outcome::failed, .attempts = 1, .reason = "cancelled"}});
}

TEST(RequestMachineCancel, CancelAfterTheTerminalEventIsAnAnomaly) {
  std::vector<Given> events = failed_round();
  events.push_back(at(t0 + 3s, RequestCancelled{}));
  Scenario(two_attempts())
      .given(events)
      .anomalies({"request-cancelled after the terminal event 105 (request failed)"})
      .when(t0 + 3s)
      .then({});
}

TEST(RequestMachineCancel, ASecondCancelIsAnAnomaly) {
  Scenario(two_attempts())
      .given({requested, at(t0, RequestCancelled{.reason = "a"}),
              at(t0, RequestCancelled{.reason = "b"})})
      .anomalies({"second request-cancelled (the first: event 101)"})
      .when(t0)
      .then({Finish{.outcome = Outcome::failed, .reason = "cancelled: a"}});
}

// --- rounds -----------------------------------------------------------------------------------

TEST(RequestMachineRounds, RetryOfAFailedRequestStartsANewRound) {
  Scenario scenario(two_attempts());
  scenario.given(failed_round());
  ASSERT_FALSE(cannot_retry(scenario.state()).has_value());
  const RequestRetried retried = retried_event(scenario.state(), "fixed");
  EXPECT_EQ(retried.round, 1U);
  EXPECT_EQ(retried.attempts, 2U);
  scenario.given({at(t0 + 60s, retried)}).when(t0 + 60s).then({StartAttempt{.attempt = 2}});
  EXPECT_FALSE(is_terminal(scenario.state()));
  EXPECT_EQ(phase(scenario.state()), Phase::waiting);
  EXPECT_EQ(scenario.state().round, 1U);
}

TEST(RequestMachineRounds, TheRoundHasThePolicysRetriesAndItsOwnBackoff) {
  Scenario scenario(two_attempts());
  scenario.given(failed_round());
  scenario
      .given({at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}),
              at(t0 + 60s, ApiRequest{.attempt = 2}), at(t0 + 61s, failure(2, 503))})
      .when(t0 + 61s)
      .then({ScheduleAttempt{.attempt = 3, .at = t0 + 61200ms}});  // backoff starts over
  EXPECT_EQ(phase(scenario.state()), Phase::backing_off);
  scenario.given({at(t0 + 61200ms, ApiRequest{.attempt = 3}), at(t0 + 62s, failure(3, 503))})
      .when(t0 + 62s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 4,
                    .reason = "retries exhausted: attempt 3 failed with HTTP 503"}});
}

TEST(RequestMachineRounds, TheRoundEndsWithANewTerminalEvent) {
  Scenario scenario(two_attempts());
  scenario.given(failed_round());
  scenario
      .given({at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}),
              at(t0 + 60s, ApiRequest{.attempt = 2}), at(t0 + 61s, response(2)),
              at(t0 + 61s, RequestSucceeded{.attempts = 3, .attempt = 2})})
      .when(t0 + 61s)
      .then({});
  EXPECT_EQ(phase(scenario.state()), Phase::succeeded);
  EXPECT_EQ(scenario.state().attempts.size(), 3U);
  EXPECT_TRUE(cannot_retry(scenario.state()).has_value());
}

TEST(RequestMachineRounds, TheRoundsDeadlineCountsFromTheRetry) {
  Policy policy = two_attempts();
  policy.deadline = 10s;
  Scenario scenario(policy);
  scenario.given(failed_round());
  scenario.given({at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2})})
      .when(t0 + 65s)  // 65 s after the request, 5 s into the round
      .then({StartAttempt{.attempt = 2}});
  scenario.when(t0 + 70s).then(
      {Finish{.outcome = Outcome::failed, .attempts = 2, .reason = "deadline exceeded"}});
}

TEST(RequestMachineRounds, RetryOfAnUnfinishedRequestIsAnAnomaly) {
  Scenario(two_attempts())
      .given({requested, at(t0, RequestRetried{.round = 1, .attempts = 0})})
      .anomalies({"request-retried, but request 100 is unfinished"})
      .when(t0)
      .then({StartAttempt{.attempt = 0}});
}

TEST(RequestMachineRounds, RetryOfASucceededRequestIsAnAnomaly) {
  Scenario(two_attempts())
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, response(0)),
              at(t0 + 1s, RequestSucceeded{.attempts = 1, .attempt = 0}),
              at(t0 + 2s, RequestRetried{.round = 1, .attempts = 1})})
      .anomalies({"request-retried, but request 100 succeeded"})
      .when(t0 + 2s)
      .then({});
}

TEST(RequestMachineRounds, RetryNamingTheWrongRoundIsAnAnomaly) {
  std::vector<Given> events = failed_round();
  events.push_back(at(t0 + 60s, RequestRetried{.round = 2, .attempts = 2}));
  Scenario(two_attempts())
      .given(events)
      .anomalies({"request-retried names round 2 after 2 attempts, expected round 1 after 2 "
                  "attempts"})
      .when(t0 + 60s)
      .then({});
}

TEST(RequestMachineRounds, ASecondRetryOfTheSameFailureIsAnAnomaly) {
  std::vector<Given> events = failed_round();
  events.push_back(at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}));
  events.push_back(at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}));
  Scenario(two_attempts())
      .given(events)
      .anomalies({"request-retried, but request 100 is unfinished"})
      .when(t0 + 60s)
      .then({StartAttempt{.attempt = 2}});
}

TEST(RequestMachineRounds, AnAnswerOfAnEarlierRoundIsAnAnomaly) {
  std::vector<Given> events = failed_round();
  events.push_back(at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}));
  events.push_back(at(t0 + 61s, response(1)));
  Scenario(two_attempts())
      .given(events)
      .anomalies({"api-response for attempt 1 of an earlier round"})
      .when(t0 + 61s)
      .then({StartAttempt{.attempt = 2}});
}

TEST(RequestMachineRounds, CancelEndsARetriedRound) {
  std::vector<Given> events = failed_round();
  events.push_back(at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2}));
  events.push_back(at(t0 + 61s, RequestCancelled{.reason = "gave up"}));
  Scenario(two_attempts())
      .given(events)
      .when(t0 + 61s)
      .then({Finish{.outcome = Outcome::failed, .attempts = 2, .reason = "cancelled: gave up"}});
}

TEST(RequestMachineRounds, RoundsAreBounded) {
  Scenario scenario(steady(Policy{.retries = 0}));
  scenario.given({requested});
  std::uint32_t attempts = 0;
  for (std::uint32_t round = 0; round < limits::request_rounds_max; ++round) {
    const TimePoint t = t0 + std::chrono::seconds(round);
    if (round > 0) scenario.given({at(t, retried_event(scenario.state(), ""))});
    scenario.given({at(t, RequestCancelled{}), at(t, request_failed(attempts, "cancelled"))});
  }
  EXPECT_EQ(scenario.state().round, limits::request_rounds_max - 1);
  EXPECT_TRUE(cannot_retry(scenario.state()).has_value());
}

TEST(RequestMachineRounds, StartRoundDecidesAsTheWholeHistory) {
  Scenario scenario(two_attempts());
  scenario.given(failed_round());
  scenario.given({at(t0 + 60s, RequestRetried{.round = 1, .attempts = 2})});
  events::Envelope request{.id = request_id, .created = t0, .event = requested.event};
  events::Envelope retried{.id = events::EventId{106},
                           .created = t0 + 60s,
                           .causation_id = request_id,
                           .event = RequestRetried{.round = 1, .attempts = 2}};
  auto rebuilt = start_round(request, retried, two_attempts());
  ASSERT_TRUE(rebuilt.has_value());
  for (const TimePoint now : {t0 + 60s, t0 + 90s}) {
    EXPECT_EQ(decide(*rebuilt, now), decide(scenario.state(), now));
  }
  EXPECT_EQ(phase(*rebuilt), phase(scenario.state()));
  retried.event = RequestRetried{.round = 0, .attempts = 2};
  EXPECT_FALSE(start_round(request, retried, two_attempts()).has_value());
}

}  // namespace
}  // namespace api_broker::core::test
