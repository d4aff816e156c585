// The simulator's own invariants (beyond the auditor's): each is shown to catch the fault it
// is for, on a log and a list of API calls written by hand.

#include "checks.hpp"

#include <gtest/gtest.h>

namespace api_broker::sim {
namespace {

using namespace std::chrono_literals;
using events::EventId;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};

class History {
 public:
  std::uint64_t add(Duration at, events::Event event, std::uint64_t cause = 0) {
    const std::uint64_t id = log.size() + 1;
    log.push_back(events::Envelope{.id = EventId{id},
                                   .created = t0 + at,
                                   .causation_id = EventId{cause},
                                   .external_uuid = std::nullopt,
                                   .event = std::move(event)});
    return id;
  }
  std::vector<events::Envelope> log;
};

ReceivedCall call(std::uint64_t request, std::uint32_t attempt, Duration at) {
  return ReceivedCall{
      .request = request, .attempt = attempt, .idempotency_key = "k", .at = t0 + at};
}

// A request answered on its second attempt.
History retried_request() {
  History h;
  const auto r = h.add(0ms, events::Request{"x"});
  h.add(1ms, events::ApiRequest{0}, r);
  h.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  h.add(300ms, events::ApiRequest{1}, r);
  h.add(310ms, events::ApiResponse{.attempt = 1, .response = "ok", .status = 200}, r);
  h.add(311ms, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  return h;
}

TEST(CheckCalls, AcceptsOneCallPerAttemptAfterItsApiRequest) {
  EXPECT_TRUE(check_calls(retried_request().log, {call(1, 0, 2ms), call(1, 1, 300ms)}).empty());
}

TEST(CheckCalls, CatchesACallAfterTheTerminalEvent) {
  const auto v = check_calls(retried_request().log, {call(1, 0, 2ms), call(1, 1, 400ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("after the terminal event"), std::string::npos) << v[0];
}

// Issue 12: a failed request retried; its round's call follows the first terminal event.
TEST(CheckCalls, AcceptsTheCallsOfARetriedRound) {
  History h;
  const auto r = h.add(0ms, events::Request{"x"});
  h.add(1ms, events::ApiRequest{0}, r);
  h.add(5ms, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  h.add(6ms, events::RequestFailed{.attempts = 1, .reason = "retries exhausted"}, r);
  h.add(1s, events::RequestRetried{.round = 1, .attempts = 1}, r);
  h.add(1s, events::ApiRequest{1}, r);
  EXPECT_TRUE(check_calls(h.log, {call(1, 0, 2ms), call(1, 1, 1001ms)}).empty());
  const auto v = check_calls(h.log, {call(1, 0, 7ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("after the terminal event"), std::string::npos) << v[0];
}

TEST(CheckCalls, CatchesACallOfAnAttemptStartedAfterTheCancel) {
  History h;
  const auto r = h.add(0ms, events::Request{"x"});
  h.add(1ms, events::RequestCancelled{}, r);
  h.add(2ms, events::ApiRequest{0}, r);  // decided before the cancel was read: never sent
  h.add(9ms, events::RequestFailed{.attempts = 1, .reason = "cancelled"}, r);
  const auto v = check_calls(h.log, {call(1, 0, 3ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("started after request-cancelled 2"), std::string::npos) << v[0];
}

TEST(CheckCalls, CatchesAnAttemptSentTwice) {
  const auto v =
      check_calls(retried_request().log, {call(1, 0, 2ms), call(1, 0, 3ms), call(1, 1, 300ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("sent twice"), std::string::npos) << v[0];
}

TEST(CheckCalls, CatchesACallBeforeItsApiRequestWasCommitted) {
  const auto v = check_calls(retried_request().log, {call(1, 0, 0ms), call(1, 1, 300ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("before its api-request"), std::string::npos) << v[0];
}

TEST(CheckCalls, CatchesAnAttemptWithAnotherIdempotencyKey) {
  std::vector<ReceivedCall> calls{call(1, 0, 2ms), call(1, 1, 300ms)};
  calls[1].idempotency_key = "other";
  const auto v = check_calls(retried_request().log, calls);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("Idempotency-Key"), std::string::npos) << v[0];
}

TEST(CheckCalls, CatchesACallForSomethingThatIsNotARequest) {
  const auto v = check_calls(retried_request().log, {call(4, 0, 2ms)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("not a request"), std::string::npos) << v[0];
}

// A request with a 1 s deadline and a 200 ms attempt timeout, failed at `end`.
History late_request(Duration end) {
  History h;
  h.add(0ms, events::Configuration{.retries = 0, .timeout = 0.2, .deadline = 1.0});
  const auto r = h.add(0ms, events::Request{"x"});
  h.add(900ms, events::ApiRequest{0}, r);
  h.add(end - 1ms, events::ApiTimeout{0}, r);
  h.add(end, events::RequestFailed{.attempts = 1, .reason = "deadline exceeded"}, r);
  return h;
}

TEST(CheckDeadlines, AcceptsATerminalEventWithinOneAttemptTimeoutAndTheSlack) {
  EXPECT_TRUE(check_deadlines(late_request(1250ms).log, {}, {}, 100ms).empty());
}

TEST(CheckDeadlines, CatchesATerminalEventLaterThanThat) {
  const auto v = check_deadlines(late_request(1400ms).log, {}, {}, 100ms);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("after its deadline"), std::string::npos) << v[0];
}

TEST(CheckDeadlines, ExcusesTheTimeTheProcessorWasDownAndParkedRequests) {
  const Downtime down{t0 + 1100ms, t0 + 1300ms};
  EXPECT_TRUE(check_deadlines(late_request(1400ms).log, {down}, {}, 100ms).empty());
  EXPECT_TRUE(check_deadlines(late_request(1400ms).log, {}, {2}, 100ms).empty());
}

}  // namespace
}  // namespace api_broker::sim
