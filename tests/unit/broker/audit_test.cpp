// The auditor behind `verify`: a clean log passes, and each broken rule is reported with the
// event that broke it. Logs are written by hand here, as anyone can `insert` odd events.

#include "api_broker/broker/audit.hpp"

#include <gtest/gtest.h>

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;
using events::EventId;

const TimePoint t0 = TimePoint(Duration(1'800'000'000'000'000));

class Log {
 public:
  // Appends an event at time `at` caused by `cause`; returns its id.
  std::uint64_t add(Duration at, events::Event event, std::uint64_t cause = 0) {
    const std::uint64_t id = envelopes_.size() + 1;
    envelopes_.push_back(events::Envelope{.id = EventId{id},
                                          .created = t0 + at,
                                          .causation_id = EventId{cause},
                                          .external_uuid = std::nullopt,
                                          .event = std::move(event)});
    return id;
  }
  AuditReport audit(bool require_finished = true) const {
    Auditor auditor(AuditOptions{.require_finished = require_finished});
    for (const auto& envelope : envelopes_) auditor.add(envelope);
    return auditor.finish();
  }

 private:
  std::vector<events::Envelope> envelopes_;
};

std::string texts(const AuditReport& report) {
  std::string all;
  for (const auto& v : report.violations)
    all += std::to_string(events::to_int(v.event)) + ": " + v.text + "\n";
  return all;
}

// A policy whose delays are exact: no jitter.
Log with_policy() {
  Log log;
  log.add(0s, events::Configuration{.retries = 2,
                                    .timeout = 1,
                                    .backoff_initial = 0.1,
                                    .backoff_multiplier = 2,
                                    .backoff_max = 10,
                                    .backoff_jitter = 0,
                                    .deadline = 0});
  return log;
}

TEST(Audit, CleanRetriedRequestPasses) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  log.add(105ms, events::ApiRequest{1}, r);
  log.add(110ms, events::ApiResponse{.attempt = 1, .response = "gnip"}, r);
  log.add(111ms, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  const AuditReport report = log.audit();
  EXPECT_TRUE(report.ok()) << texts(report);
  EXPECT_EQ(report.requests, 1u);
  EXPECT_EQ(report.succeeded, 1u);
  EXPECT_EQ(report.attempts, 2u);
}

TEST(Audit, RetryBeforeItsBackoffIsReported) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  const auto early = log.add(50ms, events::ApiRequest{1}, r);  // due at 105 ms
  log.add(60ms, events::ApiResponse{.attempt = 1, .response = "gnip"}, r);
  log.add(61ms, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  const AuditReport report = log.audit();
  ASSERT_EQ(report.violations_total, 1u) << texts(report);
  EXPECT_EQ(report.violations[0].event, EventId{early});
  EXPECT_NE(report.violations[0].text.find("before its retry delay"), std::string::npos);
}

TEST(Audit, RetryAfterHeaderSetsTheDelay) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms,
          events::ApiFailure{.attempt = 0, .failure = "HTTP 429", .status = 429, .retry_after = 2},
          r);
  log.add(1005ms, events::ApiRequest{1}, r);  // backoff would allow it; Retry-After does not
  const AuditReport report = log.audit(false);
  EXPECT_EQ(report.violations_total, 1u) << texts(report);
}

TEST(Audit, AttemptAfterSuccessAndMissingTerminalAreReported) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(2ms, events::ApiResponse{.attempt = 0, .response = "gnip"}, r);
  const auto extra = log.add(300ms, events::ApiRequest{1}, r);
  const AuditReport report = log.audit();
  EXPECT_EQ(report.violations_total, 2u) << texts(report);
  EXPECT_EQ(report.violations[0].event, EventId{extra});
  EXPECT_EQ(report.open, 1u);
}

TEST(Audit, SecondTerminalAndEventsAfterItAreReported) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(2ms, events::ApiResponse{.attempt = 0, .response = "gnip"}, r);
  log.add(3ms, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);
  log.add(4ms, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);
  log.add(5ms, events::ApiRequest{1}, r);
  const AuditReport report = log.audit();
  EXPECT_EQ(report.violations_total, 2u) << texts(report);
}

TEST(Audit, TooManyAttemptsAndGapsAreReported) {
  Log log = with_policy();  // retries = 2: at most 3 attempts
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(2ms, events::ApiTimeout{0}, r);
  log.add(2s, events::ApiRequest{2}, r);  // skips attempt 1
  const AuditReport report = log.audit(false);
  EXPECT_GE(report.violations_total, 1u) << texts(report);
}

TEST(Audit, ApiEventNotCausedByARequestIsReported) {
  Log log = with_policy();
  const auto simple = log.add(0ms, events::Simple{"hello"});
  log.add(1ms, events::ApiRequest{0}, simple);
  log.add(2ms, events::ApiTimeout{0}, 0);
  const AuditReport report = log.audit();
  EXPECT_EQ(report.violations_total, 2u) << texts(report);
}

TEST(Audit, AnswersOfNoRequestAreNotCountedAsAttempts) {  // issue 15
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(2ms, events::ApiResponse{.attempt = 0, .response = "gnip"}, r);
  log.add(3ms, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);
  // `insert response x` and friends, pointing at no request.
  log.add(4ms, events::ApiResponse{.attempt = 0, .response = "stray"}, 0);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "stray"}, 0);
  log.add(6ms, events::ApiRequest{0}, 0);
  log.add(7ms, events::ApiTimeout{0}, 0);
  const AuditReport report = log.audit();
  EXPECT_EQ(report.violations_total, 4u) << texts(report);
  EXPECT_EQ(report.attempts, 1u);
  EXPECT_EQ(report.responses, 1u);
  EXPECT_EQ(report.failures, 0u);
  EXPECT_EQ(report.timeouts, 0u);
}

TEST(Audit, LateAnswerDuringTheBackoffIsASuccessAndNothingAfterTheFailureIsExpected) {
  Log log = with_policy();  // retries 2, timeout 1 s, backoff 0.1 s
  const auto late = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, late);
  log.add(1001ms, events::ApiTimeout{0}, late);
  log.add(1050ms, events::ApiResponse{.attempt = 0, .response = "gnip"}, late);
  log.add(1051ms, events::RequestSucceeded{.attempts = 1, .attempt = 0}, late);
  EXPECT_TRUE(log.audit().ok()) << texts(log.audit());
  Log last = with_policy();
  const auto r = last.add(0ms, events::Request{"ping"});
  last.add(0ms, events::ApiRequest{0}, r);
  last.add(1000ms, events::ApiTimeout{0}, r);
  last.add(1100ms, events::ApiRequest{1}, r);
  last.add(2100ms, events::ApiTimeout{1}, r);
  last.add(2300ms, events::ApiRequest{2}, r);
  last.add(3300ms, events::ApiTimeout{2}, r);
  last.add(3300ms, events::RequestFailed{.attempts = 3, .reason = "retries exhausted"}, r);
  EXPECT_TRUE(last.audit().ok()) << texts(last.audit());
  last.add(3500ms, events::ApiResponse{.attempt = 2, .response = "gnip"}, r);  // not cancelled
  const AuditReport report = last.audit();
  EXPECT_EQ(report.violations_total, 1u) << texts(report);
  EXPECT_NE(texts(report).find("api-response after the request's terminal event"),
            std::string::npos)
      << texts(report);
}

TEST(Audit, FailedWhileRetriesRemainIsReported) {
  Log log = with_policy();
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(2ms, events::ApiTimeout{0}, r);
  log.add(3ms, events::RequestFailed{.attempts = 1, .reason = "gave up early"}, r);
  const AuditReport report = log.audit();
  EXPECT_EQ(report.violations_total, 1u) << texts(report);
}

}  // namespace
}  // namespace api_broker::broker

namespace api_broker::broker {
namespace {

// A breaker opened by two failures, half-opened, its probe answered, closed again.
TEST(AuditBreaker, ALegalRunOfTransitionsPasses) {
  Log log = with_policy();
  const auto a = log.add(0ms, events::Request{"a"});
  log.add(0ms, events::BreakerClosed{.target = "", .reason = "reset"});
  log.add(0ms, events::ApiRequest{0}, a);
  log.add(10ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, a);
  log.add(10ms, events::BreakerOpened{.target = "", .reason = "1 retryable failures in a row"});
  log.add(5s, events::BreakerHalfOpened{""});
  log.add(5s, events::ApiRequest{1}, a);
  log.add(5100ms, events::ApiResponse{.attempt = 1, .response = "ok"}, a);
  log.add(5100ms, events::BreakerClosed{.target = "", .reason = "probe succeeded"});
  log.add(5100ms, events::RequestSucceeded{.attempts = 2, .attempt = 1}, a);
  const AuditReport report = log.audit();
  EXPECT_TRUE(report.ok()) << texts(report);
  EXPECT_EQ(report.breaker_transitions, 4u);
}

TEST(AuditBreaker, AnAttemptWhileOpenOrASecondProbeIsAViolation) {
  Log log = with_policy();
  const auto a = log.add(0ms, events::Request{"a"});
  const auto b = log.add(0ms, events::Request{"b"});
  const auto c = log.add(0ms, events::Request{"c"});
  log.add(0ms, events::BreakerOpened{.target = "", .reason = "x"});
  const auto while_open = log.add(1ms, events::ApiRequest{0}, a);
  log.add(5s, events::BreakerHalfOpened{""});
  log.add(5s, events::ApiRequest{0}, b);  // the probe
  const auto beside_probe = log.add(5s, events::ApiRequest{0}, c);
  const AuditReport report = log.audit(false);
  ASSERT_EQ(report.violations_total, 2u) << texts(report);
  EXPECT_EQ(events::to_int(report.violations[0].event), while_open);
  EXPECT_EQ(report.violations[0].text, "attempt 0 of target '' started while its breaker was open");
  EXPECT_EQ(events::to_int(report.violations[1].event), beside_probe);
}

TEST(AuditBreaker, TransitionsOutOfOrderAreViolationsAndTargetsAreApart) {
  Log log = with_policy();
  const auto first = log.add(0ms, events::BreakerHalfOpened{"billing"});
  log.add(0ms, events::BreakerOpened{.target = "billing", .reason = "x"});  // legal
  const auto twice = log.add(0ms, events::BreakerOpened{.target = "billing", .reason = "x"});
  const auto no_probe =
      log.add(0ms, events::BreakerClosed{.target = "billing", .reason = "probe succeeded"});
  log.add(0ms, events::BreakerClosed{.target = "billing", .reason = "reset"});  // legal
  const auto a = log.add(0ms, events::Request{"a"});
  log.add(0ms, events::BreakerOpened{.target = "billing", .reason = "x"});
  log.add(0ms, events::ApiRequest{0}, a);  // the default target's breaker is closed
  const AuditReport report = log.audit(false);
  ASSERT_EQ(report.violations_total, 3u) << texts(report);
  EXPECT_EQ(events::to_int(report.violations[0].event), first);
  EXPECT_EQ(events::to_int(report.violations[1].event), twice);
  EXPECT_EQ(events::to_int(report.violations[2].event), no_probe);
  EXPECT_EQ(report.violations[2].text,
            "breaker-closed of target 'billing' while its breaker was open");
}

TEST(AuditBreaker, ARequestIsGatedByItsOwnTarget) {
  Log log = with_policy();
  log.add(0ms, events::Target{.name = "billing", .url = "http://b.test"});
  const auto a = log.add(0ms, events::Request{.request = "a", .target = "billing"});
  log.add(0ms, events::BreakerOpened{.target = "billing", .reason = "x"});
  log.add(0ms, events::ApiRequest{0}, a);
  const AuditReport report = log.audit(false);
  ASSERT_EQ(report.violations_total, 1u) << texts(report);
  EXPECT_EQ(report.violations[0].text,
            "attempt 0 of target 'billing' started while its breaker was open");
}

// --- issue 12: rounds and cancels ----------------------------------------------------------

// No retries: request 2 fails with its attempt 0 (events 2 to 5).
std::uint64_t failed_request(Log& log) {
  log.add(0s, events::Configuration{.retries = 0, .timeout = 1, .backoff_jitter = 0});
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  log.add(6ms, events::RequestFailed{.attempts = 1, .reason = "retries exhausted"}, r);
  return r;
}

TEST(AuditRounds, TheCallsOfARetriedRoundPass) {
  Log log;
  const auto r = failed_request(log);
  log.add(10s, events::RequestRetried{.reason = "fixed", .round = 1, .attempts = 1}, r);
  log.add(10s, events::ApiRequest{1}, r);
  log.add(11s, events::ApiResponse{.attempt = 1, .response = "gnip"}, r);
  log.add(11s, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  const AuditReport report = log.audit();
  EXPECT_TRUE(report.ok()) << texts(report);
  EXPECT_EQ(report.rounds, 1u);
  EXPECT_EQ(report.succeeded, 1u);
  EXPECT_EQ(report.failed, 0u);
}

TEST(AuditRounds, CallsAfterTheTerminalEventWithoutARetryAreFlagged) {
  Log log;
  const auto r = failed_request(log);
  log.add(10s, events::ApiRequest{1}, r);
  EXPECT_EQ(texts(log.audit()), "6: api-request after the request's terminal event\n");
}

TEST(AuditRounds, RetryOfASucceededRequestOrWithTheWrongRoundIsFlagged) {
  Log log;
  const auto r = failed_request(log);
  log.add(10s, events::RequestRetried{.round = 2, .attempts = 1}, r);
  log.add(10s, events::RequestRetried{.round = 1, .attempts = 1}, r);
  log.add(10s, events::ApiRequest{1}, r);
  log.add(11s, events::ApiResponse{.attempt = 1, .response = "gnip"}, r);
  log.add(11s, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  log.add(12s, events::RequestRetried{.round = 2, .attempts = 2}, r);
  EXPECT_EQ(texts(log.audit()),
            "6: request-retried after the request's terminal event, but it names round 2 after "
            "1 attempts, expected round 1 after 1 attempts\n"
            "11: request-retried after the request's terminal event, but the request "
            "succeeded\n");
}

TEST(AuditRounds, ACancelledRequestPassesAndALateCancelIsCounted) {
  Log log;
  log.add(0s, events::Configuration{.retries = 3, .timeout = 1, .backoff_jitter = 0});
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  log.add(6ms, events::RequestCancelled{.reason = "no"}, r);
  log.add(7ms, events::RequestFailed{.attempts = 1, .reason = "cancelled: no"}, r);
  log.add(8ms, events::RequestCancelled{.reason = "again"}, r);
  const AuditReport report = log.audit();
  EXPECT_TRUE(report.ok()) << texts(report);
  EXPECT_EQ(report.cancels, 2u);
  EXPECT_EQ(report.cancels_late, 1u);
}

TEST(AuditRounds, ACallAfterTheCancelIsFlagged) {
  Log log;
  log.add(0s, events::Configuration{.retries = 3, .timeout = 1, .backoff_jitter = 0});
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::RequestCancelled{}, r);
  log.add(2ms, events::ApiRequest{0}, r);  // decided before the cancel was read: allowed
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  log.add(7ms, events::RequestFailed{.attempts = 1, .reason = "cancelled"}, r);
  EXPECT_EQ(texts(log.audit()),
            "5: api-failure for attempt 0, started after request-cancelled 3: a call after the "
            "cancel\n");
}

TEST(AuditRounds, ARetriedRoundsFirstAttemptHasNoDelayButItsRetriesDo) {
  Log log;
  log.add(0s, events::Configuration{.retries = 1,
                                    .timeout = 1,
                                    .backoff_initial = 1,
                                    .backoff_multiplier = 2,
                                    .backoff_max = 10,
                                    .backoff_jitter = 0});
  const auto r = log.add(0ms, events::Request{"ping"});
  log.add(1ms, events::ApiRequest{0}, r);
  log.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  log.add(1005ms, events::ApiRequest{1}, r);
  log.add(1010ms, events::ApiFailure{.attempt = 1, .failure = "HTTP 503", .status = 503}, r);
  log.add(1010ms, events::RequestFailed{.attempts = 2, .reason = "retries exhausted"}, r);
  log.add(1020ms, events::RequestRetried{.round = 1, .attempts = 2}, r);
  log.add(1020ms, events::ApiRequest{2}, r);
  log.add(1030ms, events::ApiFailure{.attempt = 2, .failure = "HTTP 503", .status = 503}, r);
  log.add(1100ms, events::ApiRequest{3}, r);  // 930 ms too early: the backoff starts over (1 s)
  log.add(1200ms, events::ApiFailure{.attempt = 3, .failure = "HTTP 503", .status = 503}, r);
  log.add(1200ms, events::RequestFailed{.attempts = 4, .reason = "retries exhausted"}, r);
  EXPECT_EQ(texts(log.audit()),
            "11: attempt 3 started 930.000 ms before its retry delay of 1000.000 ms had passed\n");
}

}  // namespace
}  // namespace api_broker::broker
