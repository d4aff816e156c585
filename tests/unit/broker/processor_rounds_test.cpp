// The processor and issue 12's request-cancelled / request-retried: given the events read
// back (some appended by someone else), then what it appends, calls and loads; and a processor
// restarted at its checkpoint decides the same.

#include <gtest/gtest.h>

#include "api_broker/broker/checkpoint.hpp"
#include "api_broker/broker/processor_core.hpp"
#include "unit/broker/fake_ports.hpp"

namespace api_broker::broker {
namespace {

using namespace test;

// Request 1 under `retries`, its attempt 0 called and answered 503 (read back).
void failed_once(FakePorts& ports, ProcessorCore& core) {
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);  // api-request 0: called
  core.on_answer(EventId{1}, 0, http::Response{.status = 503});
  core.on_events(ports.commit(), true);  // api-failure read back
}

TEST(ProcessorRounds, CancelDuringTheBackoffAppendsTheTerminalEventAndStartsNothing) {
  FakePorts ports;
  core::Policy p = policy(3);
  p.backoff_initial = 10s;
  ProcessorCore core(ports, ProcessorOptions{}, p, quiet());
  failed_once(ports, core);
  EXPECT_TRUE(ports.appended.empty());  // backing off
  core.on_events({ports.external(1, events::RequestCancelled{.reason = "by the API"})}, true);
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto* failed = std::get_if<events::RequestFailed>(&ports.appended[0].event);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->reason, "cancelled: by the API");
  core.on_events(ports.commit(), true);
  ports.clock += 1min;
  core.on_timer(EventId{1});
  EXPECT_TRUE(ports.appended.empty());
  EXPECT_EQ(ports.calls.size(), 1u);
}

TEST(ProcessorRounds, CancelOfAnAttemptInFlightCancelsItsCall) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);
  core.on_events(ports.commit(), true);  // called
  core.on_events({ports.external(1, events::RequestCancelled{})}, true);
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestFailed>(ports.appended[0]));
  EXPECT_EQ(ports.cancelled.size(), 1u);
  core.on_answer(EventId{1}, 0, http::Response{.status = 200});  // too late: not recorded
  EXPECT_EQ(ports.appended.size(), 1u);
}

TEST(ProcessorRounds, AnAttemptDecidedBeforeTheCancelIsNotSent) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);  // api-request 0 appended, not committed yet
  const Envelope cancel = ports.external(1, events::RequestCancelled{});
  std::vector<Envelope> batch{cancel};
  for (Envelope& e : ports.commit()) batch.push_back(e);  // committed after the cancel
  core.on_events(batch, true);
  EXPECT_TRUE(ports.calls.empty());
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestFailed>(ports.appended[0]));
}

// Found by the simulator: the call slot the gate let the attempt go with was never given back,
// and with one call at once no other request was ever called again.
TEST(ProcessorRounds, AnAttemptNotSentForACancelGivesItsCallSlotBack) {
  FakePorts ports;
  ProcessorOptions options;
  options.default_target.calls_max = 1;
  ProcessorCore core(ports, options, policy(3), quiet());
  core.on_events({ports.request()}, true);  // api-request 0 of request 1 appended
  const Envelope cancel = ports.external(1, events::RequestCancelled{});
  std::vector<Envelope> batch{cancel};
  for (Envelope& e : ports.commit()) batch.push_back(e);
  core.on_events(batch, true);  // not sent; request-failed appended
  core.on_events(ports.commit(), true);
  core.on_events({ports.request()}, true);  // request 2 gets the slot
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiRequest>(ports.appended[0]));
  EXPECT_EQ(events::to_int(ports.appended[0].causation_id), 5u);
}

TEST(ProcessorRounds, ACancelOfAParkedRequestIsFoldedWhenItIsLoaded) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{.requests_in_flight_max = 1}, policy(0), quiet());
  core.on_events({ports.request()}, true);
  const Envelope second = ports.request();
  core.on_events({second}, true);  // parked
  core.on_events({ports.external(2, events::RequestCancelled{})}, true);
  core.on_events(ports.commit(), true);
  core.on_answer(EventId{1}, 0, http::Response{.status = 200});
  core.on_events(ports.commit(), true);
  core.on_events(ports.commit(), true);  // request 1 succeeded: request 2 is loaded
  ASSERT_EQ(ports.loads, (std::vector<std::uint64_t>{2}));
  core.on_loaded({EventId{2}}, {second});
  ASSERT_EQ(ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestFailed>(ports.appended[0]));
  EXPECT_EQ(ports.calls.size(), 1u);  // request 1's only
}

// Request 1 failed (no retries), dropped; then request-retried: loaded, reading paused.
void retried(FakePorts& ports, ProcessorCore& core) {
  failed_once(ports, core);
  core.on_events(ports.commit(), true);  // request-failed read back: dropped
  const int acks = ports.acks;
  core.on_events({ports.external(1, events::RequestRetried{.round = 1, .attempts = 1})}, true);
  EXPECT_EQ(ports.loads, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(ports.acks, acks);  // paused until it is loaded
  core.on_loaded({EventId{1}}, {ports.log[0]});
  EXPECT_EQ(ports.acks, acks + 1);
}

TEST(ProcessorRounds, RetryOfAFailedRequestLoadsItAndStartsTheRound) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(0), quiet());
  retried(ports, core);
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto* request = std::get_if<events::ApiRequest>(&ports.appended[0].event);
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->attempt, 1u);  // numbering goes on
  core.on_events(ports.commit(), true);
  ASSERT_EQ(ports.calls.size(), 2u);
  EXPECT_EQ(ports.calls[1], (std::pair<std::uint64_t, std::uint32_t>{1, 1}));
  core.on_answer(EventId{1}, 1, http::Response{.status = 200});
  core.on_events(ports.commit(), true);
  ASSERT_EQ(ports.appended.size(), 1u);
  const auto* succeeded = std::get_if<events::RequestSucceeded>(&ports.appended[0].event);
  ASSERT_NE(succeeded, nullptr);
  EXPECT_EQ(succeeded->attempts, 2u);
  EXPECT_EQ(succeeded->attempt, 1u);
}

TEST(ProcessorRounds, ARestartAtTheCheckpointReadsTheRetryAgainAndDecidesTheSame) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(0), quiet());
  retried(ports, core);
  core.on_events(ports.commit(), true);  // api-request 1 read back, called; then a crash
  auto checkpoint = decode_checkpoint(ports.checkpoint);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(events::to_int(checkpoint->after), 4u);  // before the request-retried (event 5)

  FakePorts again;
  again.clock = ports.clock;
  again.last = ports.last;
  again.log = ports.log;
  ProcessorCore restarted(again, ProcessorOptions{}, checkpoint->policy, quiet(),
                          checkpoint->targets);
  restarted.on_events(again.read_after(events::to_int(checkpoint->after)), true);
  EXPECT_EQ(again.loads, (std::vector<std::uint64_t>{1}));
  restarted.on_loaded({EventId{1}}, {again.log[0]});
  // Attempt 1 was started by the run before: counted as timed out, as for any restart.
  ASSERT_EQ(again.appended.size(), 1u);
  const auto* timeout = std::get_if<events::ApiTimeout>(&again.appended[0].event);
  ASSERT_NE(timeout, nullptr);
  EXPECT_EQ(timeout->attempt, 1u);
  EXPECT_TRUE(again.calls.empty());
}

TEST(ProcessorRounds, ARetryOfAnUnfinishedRequestChangesNothing) {
  FakePorts ports;
  core::Policy p = policy(3);
  p.backoff_initial = 10s;
  ProcessorCore core(ports, ProcessorOptions{}, p, quiet());
  failed_once(ports, core);
  core.on_events({ports.external(1, events::RequestRetried{.round = 1, .attempts = 1})}, true);
  EXPECT_TRUE(ports.loads.empty());
  EXPECT_TRUE(ports.appended.empty());
}

}  // namespace
}  // namespace api_broker::broker
