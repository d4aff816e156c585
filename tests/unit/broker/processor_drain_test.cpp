// The processor's drain (issue 14): given calls in flight, when a stop asks it to drain, then
// no attempt starts, the answers that come are recorded with the terminal events they imply,
// and the drain is over once nothing is left to record, or when its time is up. Time is a
// value the test sets.

#include <gtest/gtest.h>

#include "api_broker/broker/processor_core.hpp"
#include "unit/broker/fake_ports.hpp"

namespace api_broker::broker {
namespace {

using namespace test;

// A core with one request whose attempt 0 is out (its api-request read back, called).
struct OneCallOut {
  FakePorts ports;
  ProcessorCore core{ports, ProcessorOptions{}, policy(3), quiet()};
  OneCallOut() {
    core.on_events({ports.request()}, true);
    core.on_events(ports.commit(), true);
  }
};

TEST(ProcessorDrain, WithNothingInFlightItIsOverAtOnce) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({}, true);
  core.drain(30s);
  EXPECT_TRUE(core.draining());
  EXPECT_TRUE(core.drain_over());
}

TEST(ProcessorDrain, TheAnswerOfACallInFlightIsRecordedWithItsTerminalEvent) {
  OneCallOut given;
  ASSERT_EQ(given.ports.calls.size(), 1u);
  given.core.drain(30s);
  EXPECT_EQ(given.core.calls_in_flight(), 1u);
  EXPECT_FALSE(given.core.drain_over());

  given.core.on_answer(EventId{1}, 0, http::Response{.status = 200, .body = "ok"});
  ASSERT_EQ(given.ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiResponse>(given.ports.appended[0]));
  EXPECT_FALSE(given.core.drain_over());  // appended, not read back yet
  given.core.on_events(given.ports.commit(), true);
  ASSERT_EQ(given.ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::RequestSucceeded>(given.ports.appended[0]));
  EXPECT_FALSE(given.core.drain_over());
  given.core.on_events(given.ports.commit(), true);  // request-succeeded read back
  EXPECT_TRUE(given.core.drain_over());
  EXPECT_TRUE(given.ports.cancelled.empty());
}

TEST(ProcessorDrain, AFailedCallStartsNoRetry) {
  OneCallOut given;
  given.core.drain(30s);
  given.core.on_answer(EventId{1}, 0, http::Response{.status = 503});
  ASSERT_EQ(given.ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiFailure>(given.ports.appended[0]));
  given.core.on_events(given.ports.commit(), true);  // retries left, backoff 0: due now
  EXPECT_TRUE(given.ports.appended.empty());         // but no api-request while draining
  EXPECT_EQ(given.ports.calls.size(), 1u);
  EXPECT_TRUE(given.core.drain_over());
}

TEST(ProcessorDrain, ATimeoutInFlightIsRecorded) {
  OneCallOut given;
  given.core.drain(30s);
  given.ports.clock += 1s;  // the attempt timeout
  given.core.on_timer(EventId{1});
  ASSERT_EQ(given.ports.appended.size(), 1u);
  EXPECT_TRUE(holds<events::ApiTimeout>(given.ports.appended[0]));
  given.core.on_events(given.ports.commit(), true);
  EXPECT_TRUE(given.ports.appended.empty());  // no retry
  EXPECT_EQ(given.ports.calls.size(), 1u);
}

TEST(ProcessorDrain, NoNewRequestStartsWhileDraining) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({}, true);
  core.drain(30s);
  core.on_events({ports.request()}, true);
  EXPECT_TRUE(ports.appended.empty());
  EXPECT_TRUE(ports.calls.empty());
  EXPECT_TRUE(core.drain_over());
}

TEST(ProcessorDrain, AnAttemptWhoseApiRequestWasAppendedStillGoesOut) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  core.on_events({ports.request()}, true);  // api-request 0 appended
  core.drain(30s);
  EXPECT_EQ(core.calls_in_flight(), 1u);
  EXPECT_FALSE(core.drain_over());
  core.on_events(ports.commit(), true);  // committed before the stop: it is sent
  EXPECT_EQ(ports.calls.size(), 1u);
  EXPECT_FALSE(core.drain_over());
}

TEST(ProcessorDrain, ItsTimeUpItStopsWithTheCallStillOut) {
  OneCallOut given;
  given.core.drain(30s);
  given.ports.clock += 29s;
  EXPECT_FALSE(given.core.drain_over());
  given.ports.clock += 1s;
  EXPECT_TRUE(given.core.drain_over());
  EXPECT_EQ(given.ports.cancelled.size(), 1u);  // shut down: the call is cancelled
  given.core.on_answer(EventId{1}, 0, http::Response{.status = 200});
  EXPECT_TRUE(given.ports.appended.empty() ||
              !holds<events::RequestSucceeded>(given.ports.appended.back()));
}

}  // namespace
}  // namespace api_broker::broker
