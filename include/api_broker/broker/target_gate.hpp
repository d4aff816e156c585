#pragma once
// The processor's protection of its targets (partner APIs): before an attempt's api-request is
// appended, the target's gate must let it go: a call slot free (calls_max), a token in its
// bucket (rate, burst), and its circuit breaker closed, or half-open with no probe out. An
// attempt that is due but cannot go waits in the target's FIFO queue, and its api-request is
// appended only when it goes, so the log's start times stay true. Requests waiting out a
// backoff take no slot: only attempts whose call is out (or about to be) hold one.
//
// A slot is held from the moment the gate lets an attempt go until its call ends: answered,
// cancelled, or abandoned at its timeout (on_timeout abandon). A timed-out call that is kept
// (on_timeout keep) keeps its slot until its late answer or its call limit, so the API never
// sees more than calls_max calls of a target at once.
//
// The breaker's transitions are appended as events (breaker-opened, -half-opened, -closed,
// causation 0) through the ports. Before its first decisions a processor folds the breaker
// events it reads (those after its checkpoint); a target whose breaker state it did not read
// is started closed with a breaker-closed "reset", so the log never shows an attempt while
// the breaker it last recorded is open. Single-threaded, as ProcessorCore.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "api_broker/broker/processor_options.hpp"
#include "api_broker/broker/processor_ports.hpp"
#include "api_broker/core/circuit_breaker.hpp"
#include "api_broker/core/target_limits.hpp"
#include "api_broker/core/token_bucket.hpp"

namespace api_broker::broker {

class TargetGate {
 public:
  // `wake(id)`: the attempt request `id` waits for may go now; the caller decides again for
  // it (ProcessorCore::step), which calls admit() again. It is off the queue by then.
  TargetGate(ProcessorPorts& ports, core::TargetLimits default_limits,
             std::function<void(events::EventId)> wake);

  // Folds a breaker event read from the log: true for one, false for anything else (a target
  // event's limits come through set_limits(), once the registry accepted it). `deciding`: the
  // processor caught up once and decides (the breaker events it reads now are its own, applied
  // already).
  bool fold(const events::Envelope& envelope, bool deciding);
  // The limits of `target` from now on, for every call to it (they protect the partner, not a
  // request): from each target event the registry accepts, and from the targets in force at
  // the resume point.
  void set_limits(std::string_view target, const core::TargetLimits& limits);

  // Attempt `attempt` of request `id` to `target` is due at `now`. True: it may go; its slot,
  // token and (half-open) probe are taken, held by (id, attempt) until ended(). False: it
  // waits in the target's queue (once), and wake(id) comes when its turn does.
  bool admit(std::string_view target, events::EventId id, std::uint32_t attempt, TimePoint now);
  // Request `id` no longer waits (it finished, or decided something else).
  void forget(events::EventId id);
  // The first outcome of a call: `failed` is a retryable failure or a timeout. Later ones of
  // the same call (a late answer) change nothing.
  void outcome(events::EventId id, std::uint32_t attempt, bool failed, TimePoint now);
  // The call of (id, attempt) ended (answered, cancelled, abandoned): its slot frees. A probe
  // that ended without an outcome counts as failed.
  void ended(events::EventId id, std::uint32_t attempt, TimePoint now);
  // The target's timer (ProcessorPorts::set_target_timer) fired.
  void on_timer(std::string_view target, TimePoint now);
  // Nothing more is appended or woken (shutdown, lease lost).
  void stop() { stopped_ = true; }
  // While a batch is folded, nobody is woken (a request's later events may be in the batch);
  // resume_wakes() lets the queues that got room go, once the processor decides again.
  void defer_wakes() { deferred_ = true; }
  void resume_wakes(TimePoint now);

  [[nodiscard]] bool abandons_on_timeout(std::string_view target) const;
  [[nodiscard]] std::size_t waiting() const { return queued_.size(); }

 private:
  struct Lane {
    core::TargetLimits limits;
    std::optional<core::TokenBucket> bucket;
    core::CircuitBreaker breaker;
    std::size_t calls = 0;              // slots held
    std::deque<events::EventId> queue;  // due attempts, oldest first
    bool breaker_known = false;         // read or decided in this run
    bool probe_unknown = false;         // read half-open: an earlier run's probe is lost
    std::optional<TimePoint> timer_at;
  };
  struct Call {
    std::string target;
    bool probe = false;
    bool outcome_seen = false;
  };

  Lane& lane(std::string_view target);
  void configure(Lane& lane, const core::TargetLimits& limits);
  void fold_breaker(std::string_view target, core::BreakerPhase phase, TimePoint at);
  // Whether the lane has room at `now`; appends a due half-open or reset first.
  bool ready(std::string_view target, Lane& lane, TimePoint now);
  void transition(std::string_view target, const std::optional<core::BreakerTransition>& change);
  void pump(std::string_view target, TimePoint now);
  void run_pumps(TimePoint now);
  void arm(std::string_view target, Lane& lane, TimePoint now);

  ProcessorPorts& ports_;
  core::TargetLimits default_limits_;
  std::function<void(events::EventId)> wake_;
  std::map<std::string, Lane, std::less<>> lanes_;
  std::map<std::pair<events::EventId, std::uint32_t>, Call> calls_;
  std::map<events::EventId, std::string> queued_;  // request -> the target it waits for
  bool stopped_ = false;
  bool pumping_ = false;
  bool deferred_ = false;
  std::set<std::string> pumps_due_;      // targets pump() is to look at
  std::optional<events::EventId> turn_;  // woken by pump(): admit() lets it go first
};

}  // namespace api_broker::broker
