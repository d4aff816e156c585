// The request machine on odd input: events it ignores, notes as anomalies, or sees twice.

#include "api_broker/core/request_machine.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

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
  EXPECT_EQ(scenario.state().anomalies.size(), limits::request_anomalies_max);
  EXPECT_EQ(scenario.state().anomalies_dropped, 100 - limits::request_anomalies_max);
  EXPECT_EQ(decide(scenario.state(), t0), Actions{StartAttempt{.attempt = 0}});
}

TEST(RequestMachineAnomalies, LongFailureTextIsCutAtACharacterBoundary) {
  std::string text(limits::failure_text_bytes_max - 1, 'x');
  text += "\xC3\xA9 and more";  // 'é' straddles the cut
  Scenario scenario(Policy{});
  scenario.given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, failure(0, 503, text))});
  EXPECT_EQ(scenario.state().attempts[0].failure,
            std::string(limits::failure_text_bytes_max - 1, 'x'));
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
}  // namespace api_broker::core::test
