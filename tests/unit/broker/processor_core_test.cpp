// The processor's decision loop against hand-driven ports: given the events read back, when
// answers and timers come, then what it appends and calls. Time is a value the test sets.

#include "api_broker/broker/processor_core.hpp"

#include <gtest/gtest.h>

#include <string>

#include "api_broker/broker/checkpoint.hpp"
#include "api_broker/events/codec.hpp"
#include "unit/broker/fake_ports.hpp"

namespace api_broker::broker {
namespace {

using namespace test;

TEST(ProcessorCore, CallsTheApiOnlyOnceItsApiRequestIsReadBack) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiRequest>(ports.appended[0]));
  EXPECT_TRUE(ports.calls.empty());
  core.on_events(ports.commit(), true);
  ASSERT_EQ(ports.calls.size(), 1u);
  EXPECT_EQ(ports.calls[0], (std::pair<std::uint64_t, std::uint32_t>{1, 0}));
}

// Found by the simulator: a timeout read back while a success was received but not yet read
// back started a retry after the success.
TEST(ProcessorCore, AnAnswerNotYetReadBackHoldsTheNextDecision) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);  // api-request 0 read back: called
  ports.clock += 1s;
  core.on_timer(EventId{1});  // the attempt timed out
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiTimeout>(ports.appended[0]));
  auto timeout = ports.commit();
  core.on_answer(EventId{1}, 0, http::Response{.status = 200, .body = "late"});  // appended, unread
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiResponse>(ports.appended[0]));
  auto response = ports.commit();

  core.on_events(timeout, true);  // the timeout alone: no retry now
  EXPECT_TRUE(ports.appended.empty());
  core.on_events(response, true);  // the late success: finish
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestSucceeded>(ports.appended[0]));
  EXPECT_EQ(ports.calls.size(), 1u);
}

// Found by the simulator: an answer that came after the terminal event was decided was
// appended after it.
TEST(ProcessorCore, RecordsNoAnswerAfterDecidingTheTerminalEvent) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(0), quiet());
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);
  ports.clock += 1s;
  core.on_timer(EventId{1});
  core.on_events(ports.commit(), true);  // api-timeout read back: no retry left
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestFailed>(ports.appended[0]));
  EXPECT_EQ(ports.cancelled.size(), 1u);  // the call still in flight
  core.on_answer(EventId{1}, 0, http::Response{.status = 200, .body = "too late"});
  EXPECT_EQ(ports.appended.size(), 1u);
}

// Found by the simulator: a read that ends exactly at the log's end is not flagged caught up;
// the empty read after it is delivered as an empty caught-up batch.
TEST(ProcessorCore, AnEmptyCaughtUpBatchStartsTheDecisions) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, false);
  EXPECT_TRUE(ports.appended.empty());
  core.on_events({}, true);
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiRequest>(ports.appended[0]));
  EXPECT_EQ(ports.acks, 2);
}

// Found by the simulator: after a restart, every unfinished request read during catch-up was
// started at once, above the in-flight bound.
TEST(ProcessorCore, ParksRequestsBeyondTheBoundAfterCatchingUp) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{.requests_in_flight_max = 2}, policy(3), quiet());
  std::vector<Envelope> backlog;
  for (int i = 0; i < 5; ++i) backlog.push_back(ports.request());
  core.on_events(backlog, true);
  ASSERT_EQ(ports.appended.size(), 2u);  // attempts of requests 1 and 2 only
  EXPECT_EQ(events::to_int(ports.appended[0].causation_id), 1u);
  EXPECT_EQ(events::to_int(ports.appended[1].causation_id), 2u);
  EXPECT_EQ(core.stats().parked, 3u);
  // Request 1 finishes: request 3, the oldest parked, is read back.
  core.on_events(ports.commit(), true);
  core.on_answer(EventId{1}, 0, http::Response{.status = 200});
  core.on_events(ports.commit(), true);
  core.on_events(ports.commit(), true);  // request-succeeded read back
  EXPECT_EQ(ports.loads, (std::vector<std::uint64_t>{3}));
}

// Issue 15: a processor paused past its lease (SIGSTOP, a stalled store) must not send a
// call before it knows it still holds the lease.
TEST(ProcessorCore, HoldsACallBackUntilTheLeaseIsRenewed) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  ports.lease = false;                   // not renewed within its TTL
  core.on_events(ports.commit(), true);  // api-request 0 read back
  EXPECT_TRUE(ports.calls.empty());
  EXPECT_TRUE(ports.appended.empty());  // not taken for an attempt of an earlier run
  core.on_lease_renewed();              // a renewal that does not make it held: still waits
  EXPECT_TRUE(ports.calls.empty());
  ports.lease = true;
  core.on_lease_renewed();
  ASSERT_EQ(ports.calls.size(), 1u);
  EXPECT_EQ(ports.calls[0], (std::pair<std::uint64_t, std::uint32_t>{1, 0}));
  core.on_lease_renewed();  // launched once
  EXPECT_EQ(ports.calls.size(), 1u);
}

// The HTTP client asks again right before writing (a call may wait for a connection, or the
// process may be paused, past the lease): a call it did not send goes out after a renewal.
TEST(ProcessorCore, ACallNotSentForWantOfTheLeaseGoesOutAfterARenewal) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);
  ASSERT_EQ(ports.calls.size(), 1u);
  core.on_answer(EventId{1}, 0, fail(Errc::fenced, "not sent"));
  EXPECT_TRUE(ports.appended.empty());  // not an answer of the API
  core.on_lease_renewed();
  ASSERT_EQ(ports.calls.size(), 2u);
  EXPECT_EQ(ports.calls[1], (std::pair<std::uint64_t, std::uint32_t>{1, 0}));
}

TEST(ProcessorCore, SendsAndAppendsNothingOnceTheLeaseIsLost) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  auto attempts = ports.commit();
  ports.lease = false;
  core.on_events({attempts[0]}, true);  // held back
  core.on_lease_lost();
  ports.lease = true;
  core.on_lease_renewed();
  core.on_events({attempts[1]}, true);
  ports.clock += 10s;
  core.on_timer(EventId{1});
  core.on_answer(EventId{2}, 0, http::Response{.status = 200});
  EXPECT_TRUE(ports.calls.empty());
  EXPECT_TRUE(ports.appended.empty());
}

// Issue 15: the body was capped in raw bytes, so an answer of control bytes (six bytes each in
// JSON) made an api-response the store refused; the request then never finished.
TEST(ProcessorCore, StoredAnswersFitTheirCapOnceEncoded) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{.response_bytes_stored_max = 600}, policy(3), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  core.on_events(ports.commit(), true);  // both attempts called
  ASSERT_EQ(ports.calls.size(), 2u);
  // given a 2xx body of control bytes, and a 503 body of them that the client cut in the
  // middle of a UTF-8 sequence
  core.on_answer(EventId{1}, 0, http::Response{.status = 200, .body = std::string(600, '\x01')});
  core.on_answer(EventId{2}, 0,
                 http::Response{.status = 503, .body = "\x01\xe2\x82", .truncated = true});
  // then the response keeps 100 of them (600 bytes in JSON), marked truncated
  ASSERT_EQ(ports.appended.size(), 2u);
  const auto& response = std::get<events::ApiResponse>(ports.appended[0].event);
  EXPECT_EQ(response.response, std::string(100, '\x01'));
  EXPECT_TRUE(response.truncated);
  EXPECT_LE(events::encode_payload(ports.appended[0].event).size(), 600u + 100);
  // and the failure's excerpt drops the cut sequence instead of storing U+FFFD for it
  const auto& failure = std::get<events::ApiFailure>(ports.appended[1].event);
  EXPECT_EQ(failure.body, "\x01");
  EXPECT_TRUE(failure.truncated);
}

TEST(ProcessorCore, WholeAnswerUnderTheCapIsNotMarkedTruncated) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{.response_bytes_stored_max = 6}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);
  core.on_answer(EventId{1}, 0, http::Response{.status = 200, .body = "\x01"});
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto& response = std::get<events::ApiResponse>(ports.appended[0].event);
  EXPECT_EQ(response.response, "\x01");
  EXPECT_FALSE(response.truncated);
}

// --- requests to targets --------------------------------------------------------------------

Envelope target_event(FakePorts& ports, events::Target target) {
  return Envelope{.id = EventId{++ports.last}, .created = ports.clock, .event = std::move(target)};
}

Envelope request_to(FakePorts& ports, events::Request request) {
  return Envelope{.id = EventId{++ports.last}, .created = ports.clock, .event = std::move(request)};
}

// A request to a target that is not defined gets its api-request, then fails for good without
// a call: the reason is on the record and verify replays it.
TEST(ProcessorCore, ARequestToAnUnknownTargetFailsWithoutACall) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({request_to(ports, {.request = "x", .target = "nope"})}, true);
  core.on_events(ports.commit(), true);  // api-request 0 read back
  EXPECT_TRUE(ports.calls.empty());
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto* failure = std::get_if<events::ApiFailure>(&ports.appended[0].event);
  ASSERT_NE(failure, nullptr);
  EXPECT_TRUE(failure->permanent);
  EXPECT_EQ(failure->failure, "target 'nope' is not defined");
  core.on_events(ports.commit(), true);
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto* failed = std::get_if<events::RequestFailed>(&ports.appended[0].event);
  ASSERT_NE(failed, nullptr);
  EXPECT_NE(failed->reason.find("target 'nope' is not defined"), std::string::npos)
      << failed->reason;
}

// The definition in force when a request arrived is the one it keeps: a later change or
// removal of the target does not reach it.
class PlanPorts final : public ProcessorPorts {
 public:
  explicit PlanPorts(FakePorts& fake) : fake_(fake) {}
  TimePoint now() override { return fake_.now(); }
  void set_timer(EventId r, TimePoint at) override { fake_.set_timer(r, at); }
  void cancel_timer(EventId r) override { fake_.cancel_timer(r); }
  void set_target_timer(std::string_view target, TimePoint at) override {
    fake_.set_target_timer(target, at);
  }
  std::uint64_t call_api(const ApiCall& call) override {
    plans.push_back(*call.plan);
    return fake_.call_api(call);
  }
  void cancel_call(std::uint64_t call) override { fake_.cancel_call(call); }
  bool lease_held() override { return true; }
  void append(std::vector<events::NewEvent> batch) override { fake_.append(std::move(batch)); }
  void set_checkpoint(std::string value) override { checkpoint = std::move(value); }
  void ack() override {}
  void load(std::vector<EventId> ids) override { fake_.load(std::move(ids)); }
  std::vector<CallPlan> plans;
  std::string checkpoint;

 private:
  FakePorts& fake_;
};

TEST(ProcessorCore, ARequestKeepsTheTargetInForceWhenItArrived) {
  FakePorts fake;
  PlanPorts ports(fake);
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({target_event(fake, {.name = "orders",
                                      .url = "http://p.test/v1",
                                      .headers = {{.name = "Authorization", .value = "env:T"}},
                                      .retry_on = "409"}),
                  request_to(fake, {.request = "x", .target = "orders", .path = "/o"}),
                  target_event(fake, {.name = "orders", .removed = true})},
                 true);
  core.on_events(fake.commit(), true);  // api-request 0 read back: called
  ASSERT_EQ(ports.plans.size(), 1u);
  EXPECT_EQ(ports.plans[0].target, "orders");
  EXPECT_EQ(http::to_string(ports.plans[0].endpoint.url), "http://p.test:80/v1");
  EXPECT_EQ(ports.plans[0].path, "/o");
  EXPECT_EQ(ports.plans[0].headers.at(0).value, "env:T") << "a reference, not its value";
  // 409 is retried under the target's rule: the next attempt is scheduled, not a failure.
  core.on_answer(EventId{2}, 0, http::Response{.status = 409});
  core.on_events(fake.commit(), true);
  ASSERT_EQ(fake.appended.size(), 1u);
  const auto* retry = std::get_if<events::ApiRequest>(&fake.appended[0].event);
  ASSERT_NE(retry, nullptr) << "the default rule would fail the request at 409";
  EXPECT_EQ(retry->attempt, 1u);
  // The checkpoint keeps the targets in force before the unfinished request.
  auto checkpoint = decode_checkpoint(ports.checkpoint);
  ASSERT_TRUE(checkpoint.has_value()) << ports.checkpoint;
  EXPECT_EQ(checkpoint->after, EventId{1});
  ASSERT_TRUE(checkpoint->targets);
  ASSERT_NE(checkpoint->targets->find("orders"), nullptr);
  EXPECT_FALSE(checkpoint->targets->find("orders")->event.removed);
}

}  // namespace
}  // namespace api_broker::broker
