// The request state machine, given events / when time / then actions (STYLE.md §5). Time is a
// plain TimePoint: no clock, no sleeps.
#include "api_broker/core/request_machine.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::core {
namespace {

using namespace std::chrono_literals;
using events::ApiRequest;
using events::ApiResponse;
using events::ApiTimeout;
using events::Request;
using events::RequestSucceeded;

const TimePoint t0{std::chrono::seconds{1'795'000'000}};  // 2026-11-18
constexpr events::EventId request_id{100};

// One event of a scenario's history, persisted at `created`.
struct Given {
  TimePoint created;
  events::Event event;
};
Given at(TimePoint created, events::Event event) { return Given{created, std::move(event)}; }

events::ApiFailure failure(std::uint32_t attempt, std::int32_t status, std::string text = "",
                           double retry_after = -1) {
  events::ApiFailure event;
  event.attempt = attempt;
  event.status = status;
  event.failure = std::move(text);
  event.retry_after = retry_after;
  return event;
}

ApiResponse response(std::uint32_t attempt) {
  ApiResponse event;
  event.attempt = attempt;
  event.response = "gnip";
  return event;
}

events::RequestFailed request_failed(std::uint32_t attempts, std::string reason) {
  events::RequestFailed event;
  event.attempts = attempts;
  event.reason = std::move(reason);
  return event;
}

std::string show(const Actions& actions) {
  std::string text = "{";
  for (const Action& action : actions) text += (text.size() > 1 ? "; " : "") + describe(action);
  return text + "}";
}

// Given a request's events (the first is the request itself, id 100; the others get ids 101,
// 102, ... and point at it), when it is `now`, then decide() returns these actions; deciding
// again returns the same, and folding the history again gives the same state. Anomalies must
// be exactly those declared with anomalies() (none by default).
class Scenario {
 public:
  explicit Scenario(Policy policy) : policy_(policy) {}

  Scenario& given(std::vector<Given> events) {
    for (Given& event : events) history_.push_back(std::move(event));
    state_ = fold();
    return *this;
  }
  Scenario& when(TimePoint now) {
    now_ = now;
    return *this;
  }
  Scenario& anomalies(std::vector<std::string> texts) {
    anomalies_ = std::move(texts);
    return *this;
  }
  Scenario& then(const Actions& expected) {
    const Actions actual = decide(state_, now_);
    EXPECT_TRUE(actual == expected) << "decide() at " << events::format_time(now_) << " returned "
                                    << show(actual) << ", expected " << show(expected);
    const Actions again = decide(state_, now_);
    EXPECT_TRUE(again == actual) << "deciding again returned " << show(again);
    EXPECT_TRUE(fold() == state_) << "folding the same events gave another state";
    std::vector<std::string> texts;
    for (const Anomaly& anomaly : state_.anomalies) texts.push_back(anomaly.text);
    EXPECT_EQ(texts, anomalies_);
    return *this;
  }
  const RequestState& state() const { return state_; }

 private:
  RequestState fold() const {
    EXPECT_FALSE(history_.empty());
    EXPECT_TRUE(std::holds_alternative<Request>(history_.front().event));
    RequestState state = start(envelope(0), policy_);
    for (std::size_t i = 1; i < history_.size(); ++i) state = evolve(std::move(state), envelope(i));
    return state;
  }
  events::Envelope envelope(std::size_t index) const {
    events::Envelope envelope;
    envelope.id = events::EventId{events::to_int(request_id) + index};
    envelope.created = history_[index].created;
    envelope.causation_id = index == 0 ? events::no_event : request_id;
    envelope.event = history_[index].event;
    return envelope;
  }

  Policy policy_;
  std::vector<Given> history_;
  RequestState state_;
  TimePoint now_{};
  std::vector<std::string> anomalies_;
};

// Retries after 200ms, 400ms, 800ms ... without jitter, so times are exact.
Policy steady(Policy policy) {
  policy.backoff_jitter = 0;
  return policy;
}

const Given requested = at(t0, Request{.request = "ping"});

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

// --- terminal events, phase -------------------------------------------------------------------

TEST(RequestMachine, TerminalEventEndsTheRequest) {
  Scenario scenario(Policy{});
  scenario.given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, response(0))});
  EXPECT_FALSE(is_terminal(scenario.state()));
  EXPECT_EQ(phase(scenario.state()), Phase::succeeded);
  scenario.given({at(t0 + 1s, RequestSucceeded{.attempts = 1, .attempt = 0})})
      .when(t0 + 2s)
      .then({});
  EXPECT_TRUE(is_terminal(scenario.state()));
  EXPECT_EQ(phase(scenario.state()), Phase::succeeded);
}

TEST(RequestMachine, FailedTerminalEventEndsTheRequest) {
  Scenario scenario(Policy{.retries = 0});
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiTimeout{.attempt = 0}),
              at(t0 + 1s, request_failed(1, "retries exhausted: attempt 0 timed out"))})
      .when(t0 + 1s)
      .then({});
  EXPECT_TRUE(is_terminal(scenario.state()));
  EXPECT_EQ(phase(scenario.state()), Phase::failed);
  ASSERT_TRUE(scenario.state().terminal.has_value());
  EXPECT_EQ(scenario.state().terminal->event, events::EventId{103});
  EXPECT_EQ(scenario.state().terminal->reason, "retries exhausted: attempt 0 timed out");
}

TEST(RequestMachine, PhaseFollowsTheRequest) {
  Scenario scenario(steady(Policy{.retries = 1, .attempt_timeout = 1s}));
  scenario.given({requested});
  EXPECT_EQ(phase(scenario.state()), Phase::waiting);
  scenario.given({at(t0, ApiRequest{.attempt = 0})});
  EXPECT_EQ(phase(scenario.state()), Phase::in_flight);
  scenario.given({at(t0 + 1s, ApiTimeout{.attempt = 0})});
  EXPECT_EQ(phase(scenario.state()), Phase::backing_off);
  scenario.given({at(t0 + 2s, ApiRequest{.attempt = 1})});
  EXPECT_EQ(phase(scenario.state()), Phase::in_flight);
  scenario.given({at(t0 + 3s, failure(1, 503))});
  EXPECT_EQ(phase(scenario.state()), Phase::failed);  // retries exhausted, not yet recorded
  EXPECT_FALSE(is_terminal(scenario.state()));
  // As watch-requests prints them and its help names them (issue 15).
  EXPECT_EQ(to_string(Phase::backing_off), "backing_off");
  EXPECT_EQ(to_string(Phase::in_flight), "in_flight");
}

TEST(RequestMachine, FinishMapsToItsTerminalEvent) {
  EXPECT_EQ(terminal_event(Finish{.outcome = Outcome::succeeded, .attempts = 3, .attempt = 2}),
            events::Event(RequestSucceeded{.attempts = 3, .attempt = 2}));
  EXPECT_EQ(terminal_event(Finish{.outcome = Outcome::failed, .attempts = 4, .reason = "why"}),
            events::Event(request_failed(4, "why")));
}

TEST(RequestMachine, DescribeIsOneLine) {
  EXPECT_EQ(describe(StartAttempt{.attempt = 1}), "start attempt 1");
  EXPECT_EQ(describe(ScheduleAttempt{.attempt = 2, .at = TimePoint{1500ms}}),
            "schedule attempt 2 at 1970-01-01T00:00:01.500000Z");
  EXPECT_EQ(describe(ArmTimeout{.attempt = 0, .at = TimePoint{}}),
            "arm the timeout of attempt 0 at 1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(describe(RecordTimeout{.attempt = 3}), "record the timeout of attempt 3");
  EXPECT_EQ(describe(Finish{.outcome = Outcome::failed, .attempts = 4, .reason = "why"}),
            "finish: failed after 4 attempts: why");
  EXPECT_EQ(describe(Finish{.outcome = Outcome::succeeded, .attempts = 2, .attempt = 1}),
            "finish: succeeded by attempt 1 of 2");
}

TEST(RequestMachine, KeepsThePolicyOfItsArrival) {
  const Policy policy{.retries = 7, .attempt_timeout = 3s};
  Scenario scenario(policy);
  scenario.given(
      {requested, at(t0, events::Configuration{.retries = 0})});  // points at it: ignored
  EXPECT_EQ(scenario.state().policy, policy);
  EXPECT_EQ(scenario.state().request, request_id);
  EXPECT_EQ(scenario.state().requested_at, t0);
}

// --- odd input --------------------------------------------------------------------------------

TEST(RequestMachineAnomalies, ApiRequestWithTheWrongAttemptIsIgnored) {
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 2})})
      .when(t0)
      .anomalies({"api-request for attempt 2, expected attempt 0"})
      .then({StartAttempt{.attempt = 0}});
}

TEST(RequestMachineAnomalies, SecondApiRequestIsIgnored) {
  Scenario(Policy{.attempt_timeout = 2s})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiRequest{.attempt = 0})})
      .when(t0 + 1s)
      .anomalies({"second api-request for attempt 0"})
      .then({ArmTimeout{.attempt = 0, .at = t0 + 2s}});
}

TEST(RequestMachineAnomalies, ApiRequestWhileAnAttemptIsInFlightIsIgnored) {
  Scenario(Policy{.attempt_timeout = 2s})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiRequest{.attempt = 1})})
      .when(t0 + 1s)
      .anomalies({"api-request for attempt 1 while attempt 0 is in flight"})
      .then({ArmTimeout{.attempt = 0, .at = t0 + 2s}});
}

TEST(RequestMachineAnomalies, AttemptAfterSuccessIsIgnored) {
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, response(0)),
              at(t0 + 2s, ApiRequest{.attempt = 1})})
      .when(t0 + 2s)
      .anomalies({"api-request for attempt 1 after attempt 0 succeeded"})
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachineAnomalies, AttemptAfterANonRetryableFailureIsIgnored) {
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 400)),
              at(t0 + 2s, ApiRequest{.attempt = 1})})
      .when(t0 + 2s)
      .anomalies({"api-request for attempt 1 after the request was due to fail: attempt 0 failed "
                  "with HTTP 400, which is not retried"})
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed with HTTP 400, which is not retried"}});
}

TEST(RequestMachineAnomalies, AttemptsBeyondThePolicyAreNotRecorded) {
  Scenario scenario(steady(Policy{.retries = 1, .backoff_initial = 0s}));
  scenario
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, failure(0, 503)),
              at(t0, ApiRequest{.attempt = 1}), at(t0, failure(1, 503)),
              at(t0, ApiRequest{.attempt = 2})})
      .when(t0)
      .anomalies({"api-request for attempt 2 after the request was due to fail: retries "
                  "exhausted: attempt 1 failed with HTTP 503"})
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 2,
                    .reason = "retries exhausted: attempt 1 failed with HTTP 503"}});
  EXPECT_EQ(scenario.state().attempts.size(), 2U);
}

TEST(RequestMachineAnomalies, OutcomesOfAttemptsNeverStartedAreIgnored) {
  Scenario scenario(Policy{.attempt_timeout = 2s});
  scenario
      .given({requested, at(t0, response(0)), at(t0, ApiRequest{.attempt = 0}),
              at(t0, failure(3, 503)), at(t0, ApiTimeout{.attempt = 1})})
      .when(t0)
      .anomalies({"api-response for attempt 0, which was not started",
                  "api-failure for attempt 3, which was not started",
                  "api-timeout for attempt 1, which was not started"})
      .then({ArmTimeout{.attempt = 0, .at = t0 + 2s}});
  EXPECT_EQ(scenario.state().anomalies[0].event, events::EventId{101});
  EXPECT_EQ(scenario.state().anomalies[2].event, events::EventId{104});
}

TEST(RequestMachineAnomalies, DuplicateOutcomesAreNoted) {
  Scenario(steady(Policy{.backoff_initial = 1s}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiTimeout{.attempt = 0}),
              at(t0 + 1s, ApiTimeout{.attempt = 0}), at(t0 + 1s, failure(0, 503)),
              at(t0 + 1s, failure(0, 503))})
      .when(t0 + 1s)
      .anomalies({"second api-timeout for attempt 0", "second api-failure for attempt 0"})
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 2s}});
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, response(0)),
              at(t0 + 1s, response(0)), at(t0 + 1s, failure(0, 503)),
              at(t0 + 1s, ApiTimeout{.attempt = 0})})  // the timer raced the answer: fine
      .when(t0 + 1s)
      .anomalies(
          {"second api-response for attempt 0", "api-failure for attempt 0 after its api-response"})
      .then({Finish{.outcome = Outcome::succeeded, .attempts = 1, .attempt = 0}});
}

TEST(RequestMachineAnomalies, EventsAfterTheTerminalEventAreIgnored) {
  Scenario(Policy{.retries = 0})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, ApiTimeout{.attempt = 0}),
              at(t0 + 1s, request_failed(1, "retries exhausted: attempt 0 timed out")),
              at(t0 + 2s, response(0)), at(t0 + 2s, ApiRequest{.attempt = 1}),
              at(t0 + 2s, RequestSucceeded{.attempts = 1, .attempt = 0})})
      .when(t0 + 2s)
      .anomalies({"api-response after the terminal event 103 (request failed)",
                  "api-request after the terminal event 103 (request failed)",
                  "request-succeeded after the terminal event 103 (request failed)"})
      .then({});
}

TEST(RequestMachineAnomalies, TerminalEventsThatContradictTheLog) {
  Scenario(Policy{})
      .given({requested, at(t0, RequestSucceeded{.attempts = 2, .attempt = 1})})
      .when(t0)
      .anomalies({"request-succeeded, but no attempt was answered",
                  "request-succeeded counts 2 attempts, 0 were started"})
      .then({});
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, response(0)),
              at(t0, RequestSucceeded{.attempts = 1, .attempt = 3})})
      .when(t0)
      .anomalies({"request-succeeded names attempt 3, but attempt 0 was answered first"})
      .then({});
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, response(0)),
              at(t0, request_failed(1, "gave up"))})
      .when(t0)
      .anomalies({"request-failed, but attempt 0 succeeded"})
      .then({});
  Scenario(Policy{})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, request_failed(1, "cancelled"))})
      .when(t0)
      .anomalies({"request-failed while attempt 0 was in flight"})
      .then({});
  Scenario(Policy{.retries = 2})
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, failure(0, 503)),
              at(t0, request_failed(1, "gave up early"))})
      .when(t0)
      .anomalies({"request-failed while attempt 1 was still allowed"})
      .then({});
}

TEST(RequestMachineAnomalies, RequestFailedAtTheDeadlineIsExpected) {
  Scenario(Policy{.deadline = 1s})
      .given({requested, at(t0 + 1s, request_failed(0, "deadline exceeded"))})
      .when(t0 + 1s)
      .then({});
}

TEST(RequestMachineAnomalies, AreBounded) {
  std::vector<Given> history = {requested};
  history.insert(history.end(), 100, at(t0, ApiTimeout{.attempt = 5}));
  Scenario scenario(Policy{});
  scenario.given(history);
  EXPECT_EQ(scenario.state().anomalies.size(), anomalies_max);
  EXPECT_EQ(scenario.state().anomalies_dropped, 100 - anomalies_max);
  EXPECT_EQ(decide(scenario.state(), t0), Actions{StartAttempt{.attempt = 0}});
}

TEST(RequestMachineAnomalies, LongFailureTextIsCutAtACharacterBoundary) {
  std::string text(failure_text_bytes_max - 1, 'x');
  text += "\xC3\xA9 and more";  // 'é' straddles the cut
  Scenario scenario(Policy{});
  scenario.given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, failure(0, 503, text))});
  EXPECT_EQ(scenario.state().attempts[0].failure, std::string(failure_text_bytes_max - 1, 'x'));
}

TEST(RequestMachine, ReDeliveredEventsChangeNothing) {
  Scenario scenario(Policy{.attempt_timeout = 2s});
  scenario.given({requested, at(t0, ApiRequest{.attempt = 0})});
  events::Envelope again;
  again.id = events::EventId{101};
  again.created = t0;
  again.causation_id = request_id;
  again.event = ApiRequest{.attempt = 0};
  EXPECT_EQ(evolve(scenario.state(), again), scenario.state());
}

TEST(RequestMachine, EventsWithoutMeaningAreIgnored) {
  events::Simple note;
  note.message = "a note about the request";
  Scenario(Policy{})
      .given({requested, at(t0, note), at(t0, Request{.request = "pong"})})
      .when(t0)
      .then({StartAttempt{.attempt = 0}});
}

}  // namespace
}  // namespace api_broker::core
