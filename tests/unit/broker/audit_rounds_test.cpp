// verify and issue 12's rounds and cancels: the calls of a round started by request-retried
// pass, calls after a cancel and retries at the wrong time do not.

#include <gtest/gtest.h>

#include "api_broker/broker/audit.hpp"

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;
using events::EventId;

const TimePoint t0 = TimePoint(Duration(1'800'000'000'000'000));

class Log {
 public:
  std::uint64_t add(Duration at, events::Event event, std::uint64_t cause = 0) {
    const std::uint64_t id = envelopes_.size() + 1;
    envelopes_.push_back(events::Envelope{
        .id = EventId{id}, .created = t0 + at, .causation_id = EventId{cause}, .event = event});
    return id;
  }
  AuditReport audit() const {
    Auditor auditor(AuditOptions{.require_finished = true});
    for (const auto& envelope : envelopes_) auditor.add(envelope);
    return auditor.finish();
  }

 private:
  std::vector<events::Envelope> envelopes_;
};

std::string texts(const AuditReport& report) {
  std::string all;
  for (const auto& v : report.violations) {
    all += std::to_string(events::to_int(v.event)) + ": " + v.text + "\n";
  }
  return all;
}

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
