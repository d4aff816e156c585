#include "api_broker/broker/audit.hpp"

#include <fmt/format.h>

#include "api_broker/assert.hpp"
#include "api_broker/broker/call_builder.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {

Auditor::Auditor(AuditOptions options) : options_(options) {}

void Auditor::violation(events::EventId event, events::EventId request, std::string text) {
  ++report_.violations_total;
  API_BROKER_ASSERT(report_.violations.size() <= options_.violations_max);
  if (report_.violations.size() < options_.violations_max) {
    const auto destination = destinations_.find(request);
    report_.violations.push_back(
        Violation{event, request, std::move(text),
                  destination == destinations_.end() ? std::string() : destination->second});
  }
}

void Auditor::close(events::EventId request, core::RequestState& state) {
  for (const core::Anomaly& anomaly : state.anomalies) {
    violation(anomaly.event, request, anomaly.text);
  }
  if (state.anomalies_dropped > 0) {
    violation(request, request,
              fmt::format("{} more anomalies in this request", state.anomalies_dropped));
  }
  state.anomalies.clear();
  state.anomalies_dropped = 0;
}

void Auditor::add(const events::Envelope& envelope) {
  ++report_.events;
  const events::EventId id = envelope.id;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, events::Configuration>) {
          auto policy = core::apply(policy_, e);
          if (policy) {
            policy_ = *policy;
          } else {
            violation(envelope.id, {}, "invalid configuration: " + policy.error().message);
          }
        } else if constexpr (std::is_same_v<T, events::Target>) {
          auto next = targets_->with(e);
          if (next) {
            targets_ = std::move(*next);
          } else {
            violation(envelope.id, {}, "invalid target: " + next.error().message);
          }
        } else if constexpr (std::is_same_v<T, events::Request>) {
          ++report_.requests;
          core::RetryRule rule;
          if (!is_plain(e)) {
            destinations_.emplace(id, describe_destination(e));
            // The processor retries a request to a target under the target's rule.
            if (auto target = find_target(*targets_, e.target); !e.target.empty() && target) {
              rule = (*target)->retry_on;
            }
          }
          open_.emplace(id, core::start(envelope, policy_, rule));
          if (!e.target.empty()) target_of_.emplace(id, e.target);
        } else if constexpr (std::is_same_v<T, events::Simple>) {
        } else if constexpr (std::is_same_v<T, events::BreakerOpened> ||
                             std::is_same_v<T, events::BreakerHalfOpened> ||
                             std::is_same_v<T, events::BreakerClosed>) {
          check_breaker(envelope);
        } else {
          const events::EventId cause = envelope.causation_id;
          if constexpr (std::is_same_v<T, events::RequestCancelled>) ++report_.cancels;
          if constexpr (std::is_same_v<T, events::RequestRetried>) {
            if (open_.count(cause) == 0 && finished_.count(cause) != 0) {
              retry(envelope, e);
              return;
            }
          }
          const auto it = open_.find(cause);
          if (it == open_.end()) {
            if constexpr (std::is_same_v<T, events::RequestCancelled>) {
              if (finished_.count(cause) != 0) {  // too late: it raced the terminal event
                ++report_.cancels_late;
                return;
              }
            }
            if (finished_.count(cause) != 0) {
              violation(envelope.id, envelope.causation_id,
                        fmt::format("{} after the request's terminal event",
                                    events::class_name(envelope.event)));
            } else {
              violation(envelope.id, {},
                        fmt::format("{} is caused by event {}, which is not a request",
                                    events::class_name(envelope.event), events::to_int(cause)));
            }
            return;
          }
          // Counted only for an open request: an answer inserted for no request (or after
          // the end) is a violation, not an attempt.
          if constexpr (std::is_same_v<T, events::ApiRequest>) ++report_.attempts;
          if constexpr (std::is_same_v<T, events::ApiResponse>) ++report_.responses;
          if constexpr (std::is_same_v<T, events::ApiFailure>) ++report_.failures;
          if constexpr (std::is_same_v<T, events::ApiTimeout>) ++report_.timeouts;
          core::RequestState& state = it->second;
          if constexpr (std::is_same_v<T, events::ApiRequest>) {
            check_delay(state, envelope, e);
            check_gate(envelope, e);
          }
          state = core::evolve(std::move(state), envelope);
          if (core::is_terminal(state)) {
            API_BROKER_ASSERT(state.terminal.has_value());
            if (state.terminal->outcome == core::Outcome::succeeded) {
              ++report_.succeeded;
            } else {
              ++report_.failed;
            }
            close(cause, state);
            const auto target = target_of_.find(cause);
            const auto destination = destinations_.find(cause);
            finished_.insert_or_assign(
                cause, Finished{.outcome = state.terminal->outcome,
                                .round = state.round,
                                .attempts = static_cast<std::uint32_t>(state.attempts.size()),
                                .requested_at = state.requested_at,
                                .target = target == target_of_.end() ? "" : target->second,
                                .destination =
                                    destination == destinations_.end() ? "" : destination->second});
            target_of_.erase(cause);
            open_.erase(it);
            destinations_.erase(cause);
          }
        }
      },
      envelope.event);
}

// A request-retried for a finished request: checked as the state machine checks it, then the
// request is open again for its new round.
void Auditor::retry(const events::Envelope& envelope, const events::RequestRetried& retried) {
  const events::EventId cause = envelope.causation_id;
  const Finished& finished = finished_.at(cause);
  std::string why;
  if (finished.outcome == core::Outcome::succeeded) {
    why = "the request succeeded";
  } else if (retried.round != finished.round + 1 || retried.attempts != finished.attempts) {
    why = fmt::format("it names round {} after {} attempts, expected round {} after {} attempts",
                      retried.round, retried.attempts, finished.round + 1, finished.attempts);
  }
  core::RetryRule rule;
  if (auto target = find_target(*targets_, finished.target); !finished.target.empty() && target) {
    rule = (*target)->retry_on;
  }
  const events::Envelope request{
      .id = cause, .created = finished.requested_at, .event = events::Request{}};
  auto state = why.empty() ? core::start_round(request, envelope, policy_, rule) : std::nullopt;
  if (why.empty() && !state) why = "no round or attempt number is left";
  if (!why.empty()) {
    violation(envelope.id, cause, "request-retried after the request's terminal event, but " + why);
    return;
  }
  ++report_.rounds;
  if (finished.outcome == core::Outcome::failed) --report_.failed;  // counted at its new end
  if (!finished.target.empty()) target_of_.emplace(cause, finished.target);
  if (!finished.destination.empty()) destinations_.emplace(cause, finished.destination);
  open_.emplace(cause, std::move(*state));
  finished_.erase(cause);
}

// A retry must not start before its delay (Retry-After, or the backoff, which is
// deterministic per request and attempt) has passed since the attempt before it ended. Both
// times are `created` of events the same processor appended, so they share one clock; a
// microsecond of rounding is allowed.
void Auditor::check_delay(const core::RequestState& state, const events::Envelope& envelope,
                          const events::ApiRequest& request) {
  const std::uint32_t n = request.attempt;
  if (n == state.round_first || n != state.attempts.size() || state.succeeded_attempt ||
      state.terminal) {
    return;
  }
  API_BROKER_ASSERT(!state.attempts.empty());  // n > 0 attempts were read before this one
  const core::Attempt& previous = state.attempts.back();
  const std::uint32_t in_round = n - state.round_first;  // the backoff starts over each round
  if (!previous.finished_at || in_round > state.policy.retries) return;
  const Duration delay = previous.result == core::AttemptResult::failed && previous.retry_after
                             ? *previous.retry_after
                             : core::backoff_delay(state.policy, state.request, in_round);
  const TimePoint due = *previous.finished_at + delay;
  if (envelope.created + Duration(1) < due) {
    violation(
        envelope.id, state.request,
        fmt::format("attempt {} started {:.3f} ms before its retry delay of {:.3f} ms had "
                    "passed",
                    n, std::chrono::duration<double, std::milli>(due - envelope.created).count(),
                    std::chrono::duration<double, std::milli>(delay).count()));
  }
}

// A breaker's transitions, in a legal order. The processor appends them; anyone may insert
// one, so they are input here.
void Auditor::check_breaker(const events::Envelope& envelope) {
  ++report_.breaker_transitions;
  using core::BreakerPhase;
  std::string_view target;
  BreakerPhase to = BreakerPhase::closed;
  bool legal = false;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, events::BreakerOpened>) {
          target = e.target;
          to = BreakerPhase::open;
        } else if constexpr (std::is_same_v<T, events::BreakerHalfOpened>) {
          target = e.target;
          to = BreakerPhase::half_open;
        } else if constexpr (std::is_same_v<T, events::BreakerClosed>) {
          target = e.target;
          legal = e.reason == "reset";  // a processor that did not know the state
        }
      },
      envelope.event);
  auto it = breakers_.find(target);
  if (it == breakers_.end()) it = breakers_.emplace(std::string(target), Breaker{}).first;
  Breaker& breaker = it->second;
  const BreakerPhase from = breaker.phase;
  switch (to) {
    case BreakerPhase::open:
      legal = from != BreakerPhase::open;
      break;
    case BreakerPhase::half_open:
      legal = from == BreakerPhase::open;
      break;
    case BreakerPhase::closed:
      legal = legal || from == BreakerPhase::half_open;
      break;
  }
  if (!legal) {
    violation(envelope.id, {},
              fmt::format("{} of target '{}' while its breaker was {}",
                          events::class_name(envelope.event), events::printable(target, 64),
                          core::to_string(from)));
  }
  breaker = Breaker{.phase = to};
}

// No attempt of a target starts while its breaker is open, and only one (the probe) while it
// is half-open.
void Auditor::check_gate(const events::Envelope& envelope, const events::ApiRequest& request) {
  const auto target = target_of_.find(envelope.causation_id);
  // Both arms string_view: with "" and a std::string, the conditional would be a temporary
  // std::string, gone before the lookup (found by ASan).
  const std::string_view name =
      target == target_of_.end() ? std::string_view{} : std::string_view{target->second};
  const auto it = breakers_.find(name);
  if (it == breakers_.end()) return;
  Breaker& breaker = it->second;
  if (breaker.phase == core::BreakerPhase::open ||
      (breaker.phase == core::BreakerPhase::half_open && breaker.probe_started)) {
    violation(
        envelope.id, envelope.causation_id,
        fmt::format("attempt {} of target '{}' started while its breaker was {}{}", request.attempt,
                    events::printable(name, 64), core::to_string(breaker.phase),
                    breaker.probe_started ? " and its probe was out" : ""));
  }
  if (breaker.phase == core::BreakerPhase::half_open) breaker.probe_started = true;
}

void Auditor::add_unreadable(const Error& error) {
  ++report_.events;
  violation(events::EventId{error.related_id}, {}, error.message);
}

AuditReport Auditor::finish() {
  report_.open = open_.size();
  for (auto& [id, state] : open_) {
    close(id, state);
    if (options_.require_finished) {
      violation(id, id,
                fmt::format("request has no terminal event ({}, {} attempts)",
                            core::to_string(core::phase(state)), state.attempts.size()));
    }
  }
  open_.clear();
  destinations_.clear();
  return std::move(report_);
}

Result<AuditReport> audit(store::EventStore& store, const AuditOptions& options) {
  Auditor auditor(options);
  auto last = store.last_id();
  if (!last) return fail(std::move(last).error());
  events::EventId position{};
  while (events::to_int(position) < events::to_int(*last)) {
    auto batch = store.read_after(position, limits::read_batch_max);
    if (!batch) {
      if (batch.error().code != Errc::corrupt || batch.error().related_id == 0) {
        return fail(std::move(batch).error());
      }
      auditor.add_unreadable(batch.error());
      position = events::EventId{batch.error().related_id};
      continue;
    }
    if (batch->empty()) break;
    API_BROKER_ASSERT(batch->front().id > position);  // the store's contract: ids after it
    for (const events::Envelope& envelope : *batch) {
      if (events::to_int(envelope.id) > events::to_int(*last)) break;
      auditor.add(envelope);
    }
    position = batch->back().id;
  }
  return auditor.finish();
}

}  // namespace api_broker::broker
