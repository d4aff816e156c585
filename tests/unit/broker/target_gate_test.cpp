// The processor's protection of a target through ProcessorCore, against hand-driven ports:
// given the limits of the default target, when requests come and calls end, then which
// api-request events are appended (an attempt that may not go yet is not), which calls are
// cancelled, and which breaker events are appended.

#include "api_broker/broker/target_gate.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_broker/broker/processor_core.hpp"
#include "unit/broker/fake_ports.hpp"

namespace api_broker::broker {
namespace {

using namespace test;

ProcessorOptions with(core::TargetLimits limits) {
  ProcessorOptions options;
  options.default_target = limits;
  return options;
}

using Call = std::pair<std::uint64_t, std::uint32_t>;
using Classes = std::vector<std::string>;
const http::Response ok{.status = 200, .body = "ok"};
const http::Response busy{.status = 503, .body = "busy"};

TEST(TargetGate, AttemptsBeyondTheCallSlotsWaitWithoutAnApiRequest) {
  FakePorts ports;
  ProcessorCore core(ports, with({.calls_max = 2}), policy(3), quiet());
  core.on_events({ports.request(), ports.request(), ports.request()}, true);
  EXPECT_EQ(ports.settle(core), (Classes{"api-request", "api-request"}));
  EXPECT_EQ(ports.calls, (std::vector<Call>{{1, 0}, {2, 0}}));
  EXPECT_EQ(core.stats().waiting_for_target, 1u);

  core.on_answer(EventId{1}, 0, ok);  // a slot frees: the third goes
  EXPECT_EQ(ports.settle(core), (Classes{"api-response", "api-request", "request-succeeded"}));
  EXPECT_EQ(ports.calls.back(), (Call{3, 0}));
  EXPECT_EQ(core.stats().waiting_for_target, 0u);
}

TEST(TargetGate, ARequestWaitingOutItsBackoffHoldsNoSlot) {
  FakePorts ports;
  ProcessorCore core(ports, with({.calls_max = 1}), policy(3, 1s), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  (void)ports.settle(core);
  core.on_answer(EventId{1}, 0, busy);  // the first backs off for 1 s: the second goes now
  EXPECT_EQ(ports.settle(core), (Classes{"api-failure", "api-request"}));
  EXPECT_EQ(ports.calls, (std::vector<Call>{{1, 0}, {2, 0}}));

  ports.clock += 1s;  // its retry is due, but the slot is taken
  core.on_timer(EventId{1});
  EXPECT_TRUE(ports.settle(core).empty());
  core.on_answer(EventId{2}, 0, ok);
  EXPECT_EQ(ports.settle(core), (Classes{"api-response", "api-request", "request-succeeded"}));
  EXPECT_EQ(ports.calls.back(), (Call{1, 1}));
}

// on_timeout keep: the late call stays open and keeps its slot, so the API never sees more
// than calls_max calls; its late answer still counts.
TEST(TargetGate, AKeptLateCallKeepsItsSlotAndItsAnswerCounts) {
  FakePorts ports;
  ProcessorCore core(ports, with({.calls_max = 1}), policy(1), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  (void)ports.settle(core);
  ports.clock += 1s;
  core.on_timer(EventId{1});
  EXPECT_EQ(ports.settle(core), (Classes{"api-timeout"}));  // the retry waits for the slot
  EXPECT_TRUE(ports.cancelled.empty());
  EXPECT_EQ(ports.calls.size(), 1u);

  core.on_answer(EventId{1}, 0, ok);  // late, and still counted; the slot goes to the next
  EXPECT_EQ(ports.settle(core), (Classes{"api-response", "api-request", "request-succeeded"}));
  EXPECT_EQ(ports.calls, (std::vector<Call>{{1, 0}, {2, 0}}));
}

// on_timeout abandon: the timed-out call is cancelled and its slot frees at once.
TEST(TargetGate, AnAbandonedCallIsCancelledAtItsTimeoutAndFreesItsSlot) {
  FakePorts ports;
  ProcessorCore core(ports, with({.calls_max = 1, .abandon_on_timeout = true}), policy(1), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  (void)ports.settle(core);
  ports.clock += 1s;
  core.on_timer(EventId{1});
  EXPECT_EQ(ports.cancelled, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(ports.settle(core), (Classes{"api-timeout", "api-request"}));
  EXPECT_EQ(ports.calls, (std::vector<Call>{{1, 0}, {2, 0}}));
  core.on_answer(EventId{1}, 0, ok);  // what the cancelled call might still deliver
  EXPECT_EQ(ports.settle(core), (Classes{"api-response", "request-succeeded"}));
}

// The rule for a late answer after the last attempt's timeout: the request fails there, its
// call is cancelled (kept or not), and nothing is recorded after the terminal event.
TEST(TargetGate, TheLastAttemptsTimeoutFailsTheRequestAndDropsItsLateAnswer) {
  FakePorts ports;
  ProcessorCore core(ports, with({.calls_max = 1}), policy(0), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  (void)ports.settle(core);
  ports.clock += 1s;
  core.on_timer(EventId{1});
  // Deciding the end cancels the call, whose slot goes to the next at once.
  EXPECT_EQ(ports.settle(core), (Classes{"api-timeout", "api-request", "request-failed"}));
  EXPECT_EQ(ports.cancelled.size(), 1u);
  core.on_answer(EventId{1}, 0, ok);
  EXPECT_TRUE(ports.settle(core).empty());
}

TEST(TargetGate, TheRateLimitWakesTheQueueWhenATokenComes) {
  FakePorts ports;
  ProcessorCore core(ports, with({.rate = 2, .burst = 1}), policy(0), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  EXPECT_EQ(ports.settle(core), (Classes{"api-request"}));
  EXPECT_EQ(ports.target_timers.at(""), t0 + 500ms);
  ports.clock += 500ms;
  core.on_target_timer("");
  EXPECT_EQ(ports.settle(core), (Classes{"api-request"}));
  EXPECT_EQ(ports.calls.size(), 2u);
}

TEST(TargetGate, AnOpenBreakerHoldsRetriesUntilOneProbeClosesIt) {
  FakePorts ports;
  ProcessorCore core(ports, with({.breaker_failures = 2, .breaker_pause = 5}), policy(3), quiet());
  core.on_events({ports.request(), ports.request()}, true);
  // A processor that read no breaker event says it starts closed, before its first attempt.
  EXPECT_EQ(ports.settle(core), (Classes{"breaker-closed", "api-request", "api-request"}));
  core.on_answer(EventId{1}, 0, busy);
  core.on_answer(EventId{2}, 0, busy);
  EXPECT_EQ(ports.settle(core), (Classes{"api-failure", "api-failure", "breaker-opened"}));
  EXPECT_EQ(ports.calls.size(), 2u);  // both retries are due, and wait
  EXPECT_EQ(ports.target_timers.at(""), t0 + 5s);

  ports.clock += 5s;
  core.on_target_timer("");
  EXPECT_EQ(ports.settle(core), (Classes{"breaker-half-opened", "api-request"}));
  EXPECT_EQ(ports.calls.back(), (Call{1, 1}));  // the probe, and only it
  core.on_answer(EventId{1}, 1, ok);
  EXPECT_EQ(ports.settle(core),
            (Classes{"api-response", "breaker-closed", "api-request", "request-succeeded"}));
  EXPECT_EQ(ports.calls.back(), (Call{2, 1}));
}

TEST(TargetGate, AFailedProbeOpensTheBreakerAgain) {
  FakePorts ports;
  ProcessorCore core(ports, with({.breaker_failures = 1, .breaker_pause = 5}), policy(3), quiet());
  core.on_events({ports.request()}, true);
  (void)ports.settle(core);
  core.on_answer(EventId{1}, 0, busy);
  EXPECT_EQ(ports.settle(core), (Classes{"api-failure", "breaker-opened"}));
  ports.clock += 5s;
  core.on_target_timer("");
  EXPECT_EQ(ports.settle(core), (Classes{"breaker-half-opened", "api-request"}));
  core.on_answer(EventId{1}, 1, busy);
  EXPECT_EQ(ports.settle(core), (Classes{"api-failure", "breaker-opened"}));
  EXPECT_EQ(ports.target_timers.at(""), t0 + 10s);
}

TEST(TargetGate, ADeadlineStillEndsARequestWaitingForTheBreaker) {
  FakePorts ports;
  core::Policy p = policy(3);
  p.deadline = 3s;
  ProcessorCore core(ports, with({.breaker_failures = 1, .breaker_pause = 60}), p, quiet());
  core.on_events({ports.request()}, true);
  (void)ports.settle(core);
  core.on_answer(EventId{1}, 0, busy);
  (void)ports.settle(core);
  EXPECT_EQ(ports.timers.at(1), t0 + 3s);
  ports.clock += 3s;
  core.on_timer(EventId{1});
  EXPECT_EQ(ports.settle(core), (Classes{"request-failed"}));
  EXPECT_EQ(ports.calls.size(), 1u);
}

// Found by the simulator (seed 4498): a request whose retry waited behind its own kept late
// call reached its deadline; cancelling that call freed the slot and woke the same request from
// the queue, which decided its end a second time.
TEST(TargetGate, ARequestEndingWhileQueuedBehindItsOwnKeptCallEndsOnce) {
  FakePorts ports;
  core::Policy p = policy(3);
  p.deadline = 1500ms;
  ProcessorCore core(ports, with({.calls_max = 1}), p, quiet());
  core.on_events({ports.request()}, true);
  (void)ports.settle(core);
  ports.clock += 1s;
  core.on_timer(EventId{1});
  EXPECT_EQ(ports.settle(core), (Classes{"api-timeout"}));  // the retry waits for the slot
  ports.clock += 500ms;
  core.on_timer(EventId{1});
  EXPECT_EQ(ports.settle(core), (Classes{"request-failed"}));
  EXPECT_EQ(ports.cancelled.size(), 1u);
}

// A restarted processor reads the breaker its predecessor left open: it waits out the pause.
TEST(TargetGate, ABreakerReadOpenBeforeTheFirstDecisionsStaysOpen) {
  FakePorts ports;
  ProcessorCore core(ports, with({.breaker_failures = 1, .breaker_pause = 5}), policy(3), quiet());
  const Envelope opened{.id = EventId{++ports.last},
                        .created = t0,
                        .event = events::BreakerOpened{.target = "", .reason = "earlier"}};
  core.on_events({opened, ports.request()}, true);
  EXPECT_TRUE(ports.settle(core).empty());
  ports.clock += 5s;
  core.on_target_timer("");
  EXPECT_EQ(ports.settle(core), (Classes{"breaker-half-opened", "api-request"}));
}

TEST(TargetGate, ATargetEventSetsTheLimitsOfItsName) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(0), quiet());
  const Envelope target{
      .id = EventId{++ports.last},
      .created = t0,
      .event = events::Target{.name = "billing", .url = "http://billing.test", .calls_max = 1}};
  auto request = [&] {
    return Envelope{.id = EventId{++ports.last},
                    .created = t0,
                    .event = events::Request{.request = "x", .target = "billing"}};
  };
  core.on_events({target, request(), request(), ports.request()}, true);
  // One call to billing at once; the default target has no bound.
  EXPECT_EQ(ports.settle(core), (Classes{"api-request", "api-request"}));
  EXPECT_EQ(ports.calls, (std::vector<Call>{{2, 0}, {4, 0}}));
}

// Two targets from one processor, one of them down: its open breaker holds its own attempts
// only; the other target's go at once.
TEST(TargetGate, OneTargetDownDoesNotSlowTheOther) {
  FakePorts ports;
  ProcessorCore core(ports, ProcessorOptions{}, policy(3), quiet());
  const Envelope target{
      .id = EventId{++ports.last},
      .created = t0,
      .event = events::Target{
          .name = "down", .url = "http://down.test", .breaker_failures = 1, .breaker_pause = 60}};
  const Envelope down{.id = EventId{++ports.last},
                      .created = t0,
                      .event = events::Request{.request = "x", .target = "down"}};
  core.on_events({target, down}, true);
  EXPECT_EQ(ports.settle(core), (Classes{"breaker-closed", "api-request"}));
  core.on_answer(EventId{2}, 0, busy);
  EXPECT_EQ(ports.settle(core), (Classes{"api-failure", "breaker-opened"}));
  EXPECT_EQ(ports.target_timers.at("down"), t0 + 60s);

  core.on_events({ports.request(), ports.request()}, true);  // to the default target
  EXPECT_EQ(ports.settle(core), (Classes{"api-request", "api-request"}));
  core.on_answer(EventId{7}, 0, ok);
  core.on_answer(EventId{8}, 0, ok);
  EXPECT_EQ(ports.settle(core),
            (Classes{"api-response", "api-response", "request-succeeded", "request-succeeded"}));
  EXPECT_EQ(ports.calls.size(), 3u);  // the request to "down" still waits
  EXPECT_EQ(core.stats().waiting_for_target, 1u);
}

}  // namespace
}  // namespace api_broker::broker
