#include "api_broker/broker/target_gate.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "api_broker/assert.hpp"

namespace api_broker::broker {

using core::TargetLimits;
using events::EventId;

TargetGate::TargetGate(ProcessorPorts& ports, TargetLimits default_limits,
                       std::function<void(EventId)> wake)
    : ports_(ports), default_limits_(default_limits), wake_(std::move(wake)) {}

TargetGate::Lane& TargetGate::lane(std::string_view target) {
  const auto it = lanes_.find(target);
  if (it != lanes_.end()) return it->second;
  Lane& created = lanes_[std::string(target)];
  configure(created, target.empty() ? default_limits_ : TargetLimits{});
  return created;
}

void TargetGate::set_limits(std::string_view target, const TargetLimits& limits) {
  configure(lane(target), limits);
  pump(target, ports_.now());  // a looser limit lets waiting attempts go
}

void TargetGate::configure(Lane& lane, const TargetLimits& limits) {
  lane.limits = limits;
  // A bad rate in an event is no limit rather than an assertion.
  if (limits.rate >= 0.001 && std::isfinite(limits.burst)) {
    lane.bucket.emplace(limits.rate, limits.burst);
  } else {
    lane.bucket.reset();
  }
  const core::BreakerSettings settings = core::breaker_settings(limits);
  if (!(settings == lane.breaker.settings())) lane.breaker.configure(settings);
}

bool TargetGate::fold(const events::Envelope& envelope, bool deciding) {
  // Once deciding, the breaker events read back are this processor's own: applied already.
  if (const auto* e = std::get_if<events::BreakerOpened>(&envelope.event)) {
    if (!deciding) fold_breaker(e->target, core::BreakerPhase::open, envelope.created);
    return true;
  }
  if (const auto* e = std::get_if<events::BreakerHalfOpened>(&envelope.event)) {
    if (!deciding) fold_breaker(e->target, core::BreakerPhase::half_open, envelope.created);
    return true;
  }
  if (const auto* e = std::get_if<events::BreakerClosed>(&envelope.event)) {
    if (!deciding) fold_breaker(e->target, core::BreakerPhase::closed, envelope.created);
    return true;
  }
  return false;
}

// A half-open breaker read from the log had its probe sent by an earlier run, whose outcome
// nobody waits for now: ready() reopens it (half-open -> open, a legal transition).
void TargetGate::fold_breaker(std::string_view target, core::BreakerPhase phase, TimePoint at) {
  Lane& l = lane(target);
  l.breaker_known = true;
  l.probe_unknown = phase == core::BreakerPhase::half_open;
  l.breaker.restore(l.probe_unknown ? core::BreakerPhase::open : phase, at);
}

void TargetGate::transition(std::string_view target,
                            const std::optional<core::BreakerTransition>& change) {
  if (!change || stopped_) return;
  lane(target).breaker_known = true;
  events::Event event;
  switch (change->to) {
    case core::BreakerPhase::open:
      event = events::BreakerOpened{.target = std::string(target), .reason = change->reason};
      break;
    case core::BreakerPhase::half_open:
      event = events::BreakerHalfOpened{std::string(target)};
      break;
    case core::BreakerPhase::closed:
      event = events::BreakerClosed{.target = std::string(target), .reason = change->reason};
      break;
  }
  std::vector<events::NewEvent> batch;
  batch.push_back(events::NewEvent{.event = std::move(event)});
  ports_.append(std::move(batch));
}

bool TargetGate::ready(std::string_view target, Lane& l, TimePoint now) {
  core::CircuitBreaker& breaker = l.breaker;
  if (breaker.settings().enabled()) {
    if (!l.breaker_known) {  // started closed: say so before the first attempt
      transition(target,
                 core::BreakerTransition{.to = core::BreakerPhase::closed, .reason = "reset"});
    }
    if (l.probe_unknown) {
      l.probe_unknown = false;
      breaker.restore(core::BreakerPhase::open, now);
      transition(target,
                 core::BreakerTransition{.to = core::BreakerPhase::open,
                                         .reason = "the probe of an earlier run has no outcome"});
    }
    transition(target, breaker.on_time(now));
    if (!breaker.allows()) return false;
  } else if (breaker.phase() != core::BreakerPhase::closed) {  // turned off while open
    breaker.restore(core::BreakerPhase::closed, now);
    transition(target,
               core::BreakerTransition{.to = core::BreakerPhase::closed, .reason = "reset"});
  }
  if (l.limits.calls_max > 0 && l.calls >= l.limits.calls_max) return false;
  return !l.bucket || l.bucket->next_token_at(now) <= now;
}

bool TargetGate::admit(std::string_view target, EventId id, std::uint32_t attempt, TimePoint now) {
  if (stopped_) return false;
  Lane& l = lane(target);
  const bool turn = turn_ == id;  // pump() took it off the queue and woke it
  const auto queued = queued_.find(id);
  if (queued != queued_.end()) return false;  // its turn has not come
  if (!turn && !l.queue.empty()) {            // first come, first served
    l.queue.push_back(id);
    queued_.emplace(id, std::string(target));
    return false;
  }
  if (!ready(target, l, now)) {
    if (turn) {
      l.queue.push_front(id);  // it keeps its place
    } else {
      l.queue.push_back(id);
    }
    queued_.emplace(id, std::string(target));
    arm(target, l, now);
    return false;
  }
  ++l.calls;
  if (l.bucket) {
    const bool took = l.bucket->try_take(now);
    API_BROKER_ASSERT(took);  // ready() saw a token at `now`
  }
  const bool probe = l.breaker.settings().enabled() && l.breaker.on_start();
  const bool added =
      calls_.emplace(std::pair{id, attempt}, Call{.target = std::string(target), .probe = probe})
          .second;
  API_BROKER_ASSERT(added);  // an attempt is let go once
  return true;
}

void TargetGate::forget(EventId id) {
  const auto it = queued_.find(id);
  if (it == queued_.end()) return;
  std::erase(lane(it->second).queue, id);
  queued_.erase(it);
}

void TargetGate::outcome(EventId id, std::uint32_t attempt, bool failed, TimePoint now) {
  const auto it = calls_.find({id, attempt});
  if (it == calls_.end() || it->second.outcome_seen) return;
  it->second.outcome_seen = true;
  const std::string target = it->second.target;
  Lane& l = lane(target);
  if (!l.breaker.settings().enabled()) return;
  const auto change = l.breaker.on_outcome(failed, it->second.probe, now);
  transition(target, change);
  if (change && change->to == core::BreakerPhase::closed) pump(target, now);
  if (change && change->to == core::BreakerPhase::open && !l.queue.empty()) arm(target, l, now);
}

void TargetGate::ended(EventId id, std::uint32_t attempt, TimePoint now) {
  const auto it = calls_.find({id, attempt});
  if (it == calls_.end()) return;
  if (it->second.probe && !it->second.outcome_seen) outcome(id, attempt, true, now);
  const std::string target = std::move(it->second.target);
  calls_.erase(it);
  Lane& l = lane(target);
  API_BROKER_ASSERT(l.calls > 0);  // admit() counted this call
  --l.calls;
  pump(target, now);
}

void TargetGate::on_timer(std::string_view target, TimePoint now) {
  Lane& l = lane(target);
  l.timer_at.reset();
  pump(target, now);
}

bool TargetGate::abandons_on_timeout(std::string_view target) const {
  const auto it = lanes_.find(target);
  if (it != lanes_.end()) return it->second.limits.abandon_on_timeout;
  return target.empty() && default_limits_.abandon_on_timeout;
}

// Lets the target's waiting attempts go, oldest first, while it has room. Re-entrant: a woken
// request may end calls (and pump again) before returning.
void TargetGate::pump(std::string_view target, TimePoint now) {
  pumps_due_.insert(std::string(target));
  run_pumps(now);
}

void TargetGate::resume_wakes(TimePoint now) {
  deferred_ = false;
  run_pumps(now);
}

void TargetGate::run_pumps(TimePoint now) {
  if (pumping_ || deferred_) return;
  pumping_ = true;
  while (!pumps_due_.empty() && !stopped_) {
    const std::string name = *pumps_due_.begin();
    pumps_due_.erase(pumps_due_.begin());
    Lane& l = lane(name);
    while (!l.queue.empty() && !stopped_ && ready(name, l, now)) {
      const EventId id = l.queue.front();
      l.queue.pop_front();
      queued_.erase(id);
      turn_ = id;
      wake_(id);
      turn_.reset();
    }
    if (!l.queue.empty()) arm(name, l, now);
  }
  pumping_ = false;
}

// Wakes the target when what its queue waits for comes: the breaker's pause ends, or a
// token. A full set of slots needs no timer: ended() pumps.
void TargetGate::arm(std::string_view target, Lane& l, TimePoint now) {
  std::optional<TimePoint> at;
  if (l.breaker.settings().enabled() && l.breaker.half_open_at()) {
    at = l.breaker.half_open_at();
  } else if (l.bucket && l.bucket->next_token_at(now) > now) {
    at = l.bucket->next_token_at(now);
  }
  if (!at || l.timer_at == at || stopped_) return;
  l.timer_at = at;
  ports_.set_target_timer(target, *at);
}

}  // namespace api_broker::broker
