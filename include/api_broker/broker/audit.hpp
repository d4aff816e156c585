#pragma once
// The invariant checker over a log, used by `api-broker verify`, the end-to-end and crash
// tests and the simulator. It replays the log through the same request state machine as the
// processor (core::evolve) and reports every rule broken:
//   - every api-* and request-* event is caused by a request event;
//   - attempts are numbered 0, 1, 2, ... and no more than the policy's retries + 1;
//   - no attempt starts after a success, after the request was due to finish, before its
//     backoff (or Retry-After) delay, or at or past the request's deadline;
//   - a request has at most one terminal event per round, it agrees with the attempts, and
//     nothing follows it but a request-retried that starts the next round (after a
//     request-failed, naming the next round and the attempts so far: the calls of that round
//     are allowed) or a request-cancelled that came too late (a race: counted, no violation);
//   - no call after a cancel: an answer of an attempt started after the request-cancelled was
//     read is a violation;
//   - with require_finished: every request has its terminal event;
//   - circuit breakers, per target: transitions in a legal order (opened from closed or
//     half-open, half-opened from open, closed from half-open or as a "reset"), no attempt of
//     a target starts while its breaker is open, and one only (the probe) while half-open.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api_broker/broker/targets.hpp"
#include "api_broker/core/circuit_breaker.hpp"
#include "api_broker/core/request_machine.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

struct Violation {
  events::EventId event{};    // the event that broke the rule
  events::EventId request{};  // its request, when known
  std::string text;
  std::string destination{};  // the request's method and destination, when not plain
};

struct AuditReport {
  std::uint64_t events = 0;
  std::uint64_t requests = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t open = 0;  // requests without a terminal event
  std::uint64_t attempts = 0;
  std::uint64_t responses = 0;
  std::uint64_t failures = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t breaker_transitions = 0;
  std::uint64_t cancels = 0;          // request-cancelled events
  std::uint64_t cancels_late = 0;     // of those, read after the request's terminal event
  std::uint64_t rounds = 0;           // request-retried events that started a round
  std::vector<Violation> violations;  // the first violations_max
  std::uint64_t violations_total = 0;
  [[nodiscard]] bool ok() const { return violations_total == 0; }
};

struct AuditOptions {
  bool require_finished = false;  // an open request is a violation
  std::size_t violations_max = 1000;
};

// Folds a log event by event, in id order. Memory: one state per open request, a few numbers
// per finished one (what a request-retried is checked against).
class Auditor {
 public:
  explicit Auditor(AuditOptions options = {});
  void add(const events::Envelope& envelope);
  // A row that could not be read (corrupt): a violation, and the audit goes on.
  void add_unreadable(const Error& error);
  AuditReport finish();

 private:
  void violation(events::EventId event, events::EventId request, std::string text);
  void close(events::EventId request, core::RequestState& state);
  void check_delay(const core::RequestState& state, const events::Envelope& envelope,
                   const events::ApiRequest& request);
  void check_breaker(const events::Envelope& envelope);
  void check_gate(const events::Envelope& envelope, const events::ApiRequest& request);

  // The breaker of a target as the log says: closed unless an event said otherwise.
  struct Breaker {
    core::BreakerPhase phase = core::BreakerPhase::closed;
    bool probe_started = false;  // half-open: its one attempt started
  };

  AuditOptions options_;
  AuditReport report_;
  core::Policy policy_;
  std::shared_ptr<const Targets> targets_ = std::make_shared<const Targets>();
  std::map<events::EventId, core::RequestState> open_;
  // describe_destination() of the open requests that are not plain.
  std::map<events::EventId, std::string> destinations_;
  // What a finished request keeps for a request-retried: it is started as the processor does
  // (core::start_round()), under the policy and target in force at the request-retried.
  struct Finished {
    core::Outcome outcome = core::Outcome::failed;
    std::uint32_t round = 0;
    std::uint32_t attempts = 0;
    TimePoint requested_at{};
    std::string target{};
    std::string destination{};
  };
  void retry(const events::Envelope& envelope, const events::RequestRetried& retried);
  std::unordered_map<events::EventId, Finished> finished_;
  std::map<events::EventId, std::string> target_of_;  // open requests that name a target
  std::map<std::string, Breaker, std::less<>> breakers_;
};

// Audits the whole log of `store` as it is now.
Result<AuditReport> audit(store::EventStore& store, const AuditOptions& options = {});

}  // namespace api_broker::broker
