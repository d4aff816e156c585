// The request machine's terminal events, phases, and what it keeps and tells of a request.

#include "api_broker/core/request_machine.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

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

}  // namespace
}  // namespace api_broker::core::test
