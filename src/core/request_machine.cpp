#include "api_broker/core/request_machine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <utility>

#include <fmt/core.h>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/events/utf8.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::core {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr std::string_view deadline_exceeded = "deadline exceeded";

// t + d, saturating at the end of time (d comes from a valid policy or a capped Retry-After,
// but `t` is a stored time and the log is input).
TimePoint later(TimePoint t, Duration d) {
  API_BROKER_ASSERT(d.count() >= 0);
  return t > TimePoint::max() - d ? TimePoint::max() : t + d;
}

// `text` cut to at most `bytes_max` bytes without splitting a UTF-8 sequence.
std::string cut(std::string_view text, std::size_t bytes_max) {
  return std::string(events::utf8_prefix(text, bytes_max));
}

// An api-failure's retry_after in seconds: -1 = none; other negatives and NaN are treated as
// none too (the log is input); anything above limits::retry_after_max is capped.
std::optional<Duration> retry_after_of(double seconds) {
  if (!(seconds >= 0)) return std::nullopt;
  const Duration cap = limits::retry_after_max;
  if (seconds >= to_seconds(cap)) return cap;
  return std::chrono::round<Duration>(std::chrono::duration<double>(seconds));
}

std::optional<TimePoint> deadline_of(const RequestState& state) {
  if (state.policy.deadline.count() == 0) return std::nullopt;
  return later(state.requested_at, state.policy.deadline);
}

std::uint32_t attempts_started(const RequestState& state) {
  return static_cast<std::uint32_t>(state.attempts.size());
}

// ": <failure text>" for a reason, unless the text only repeats the status ("HTTP 503", as
// the processor records a non-2xx answer): "failed with HTTP 503: HTTP 503" says it twice.
std::string failure_detail(const Attempt& attempt) {
  if (attempt.failure.empty()) return {};
  if (attempt.status != 0 && attempt.failure == fmt::format("HTTP {}", attempt.status)) return {};
  return fmt::format(": {}", attempt.failure);
}

// How an attempt that did not succeed ended, for reasons.
std::string ending(std::uint32_t number, const Attempt& attempt) {
  if (attempt.result == AttemptResult::timed_out)
    return fmt::format("attempt {} timed out", number);
  std::string text = attempt.status == 0
                         ? fmt::format("attempt {} failed", number)
                         : fmt::format("attempt {} failed with HTTP {}", number, attempt.status);
  return text + failure_detail(attempt);
}

Finish failed(const RequestState& state, std::string reason) {
  return Finish{.outcome = Outcome::failed,
                .attempts = attempts_started(state),
                .attempt = 0,
                .reason = std::move(reason)};
}

// What the rules say next, before looking at the clock: decide() compares it with `now`,
// phase() names it, and evolve() checks events against it.
struct Plan {
  enum class Kind : std::uint8_t {
    done,    // a terminal event was read
    finish,  // `finish` is due
    start,   // attempt `attempt` is due at `at` (none: right away), unless `deadline` passed
    await,   // attempt `attempt` is in flight until `at` (none: no end)
  };
  Kind kind = Kind::done;
  Finish finish{};
  std::uint32_t attempt = 0;
  std::optional<TimePoint> at{};
  std::optional<TimePoint> deadline{};
};

Plan plan(const RequestState& state) {
  API_BROKER_ASSERT(state.attempts.size() <= std::size_t{state.policy.retries} + 1);
  API_BROKER_ASSERT(state.anomalies.size() <= limits::request_anomalies_max);
  if (state.terminal) return Plan{.kind = Plan::Kind::done};
  if (state.succeeded_attempt) {
    API_BROKER_ASSERT(*state.succeeded_attempt < state.attempts.size());
    return Plan{.kind = Plan::Kind::finish,
                .finish = Finish{.outcome = Outcome::succeeded,
                                 .attempts = attempts_started(state),
                                 .attempt = *state.succeeded_attempt,
                                 .reason = {}}};
  }
  const std::optional<TimePoint> deadline = deadline_of(state);
  if (state.attempts.empty()) {
    return Plan{.kind = Plan::Kind::start, .attempt = 0, .deadline = deadline};
  }
  const auto newest = static_cast<std::uint32_t>(state.attempts.size() - 1);
  const Attempt& attempt = state.attempts.back();
  if (attempt.result == AttemptResult::in_flight) {
    std::optional<TimePoint> end;
    if (state.policy.attempt_timeout.count() > 0) {
      end = later(attempt.started_at, state.policy.attempt_timeout);
    }
    if (deadline) end = end ? std::min(*end, *deadline) : *deadline;
    return Plan{.kind = Plan::Kind::await, .attempt = newest, .at = end};
  }
  // Answered attempts set succeeded_attempt, handled above.
  API_BROKER_ASSERT(attempt.result == AttemptResult::failed ||
                    attempt.result == AttemptResult::timed_out);
  API_BROKER_ASSERT(attempt.finished_at.has_value());
  if (attempt.result == AttemptResult::failed && !attempt.retryable) {
    // A permanent failure (a certificate that failed verification) says so; status 0 is not
    // retried otherwise only when the target's rule says so: "HTTP 0" would name no answer as if
    // it were one.
    std::string reason =
        (attempt.permanent ? fmt::format("attempt {} failed permanently", newest)
         : attempt.status == 0
             ? fmt::format("attempt {} failed without an answer, which is not retried", newest)
             : fmt::format("attempt {} failed with HTTP {}, which is not retried", newest,
                           attempt.status)) +
        failure_detail(attempt);
    return Plan{.kind = Plan::Kind::finish, .finish = failed(state, std::move(reason))};
  }
  if (state.attempts.size() == std::size_t{state.policy.retries} + 1) {
    return Plan{.kind = Plan::Kind::finish,
                .finish = failed(state, "retries exhausted: " + ending(newest, attempt))};
  }
  const std::uint32_t next = newest + 1;
  const Duration delay = attempt.result == AttemptResult::failed && attempt.retry_after
                             ? *attempt.retry_after
                             : backoff_delay(state.policy, state.request, next);
  const TimePoint due = later(*attempt.finished_at, delay);
  if (deadline && due >= *deadline) {
    return Plan{.kind = Plan::Kind::finish,
                .finish = failed(state, std::string(deadline_exceeded))};
  }
  return Plan{.kind = Plan::Kind::start, .attempt = next, .at = due, .deadline = deadline};
}

// Folds one event into a state; see evolve().
class Fold {
 public:
  Fold(RequestState& state, const events::Envelope& envelope)
      : state_(state), envelope_(envelope) {}

  void operator()(const events::ApiRequest& event) {
    if (after_terminal()) return;
    const Plan next = plan(state_);
    const std::uint32_t a = event.attempt;
    switch (next.kind) {
      case Plan::Kind::start:
        if (a == next.attempt) {
          state_.attempts.push_back(Attempt{.started_at = envelope_.created});
          API_BROKER_ASSERT(state_.attempts.size() <= std::size_t{state_.policy.retries} + 1);
        } else if (a < next.attempt) {
          note(fmt::format("second api-request for attempt {}", a));
        } else {
          note(fmt::format("api-request for attempt {}, expected attempt {}", a, next.attempt));
        }
        return;
      case Plan::Kind::await:
        note(a == next.attempt
                 ? fmt::format("second api-request for attempt {}", a)
                 : fmt::format("api-request for attempt {} while attempt {} is in flight", a,
                               next.attempt));
        return;
      case Plan::Kind::finish:
        note(next.finish.outcome == Outcome::succeeded
                 ? fmt::format("api-request for attempt {} after attempt {} succeeded", a,
                               next.finish.attempt)
                 : fmt::format("api-request for attempt {} after the request was due to fail: {}",
                               a, next.finish.reason));
        return;
      case Plan::Kind::done:
        break;
    }
    API_BROKER_ASSERT(false);  // after_terminal() handled done
  }

  void operator()(const events::ApiResponse& event) {
    Attempt* attempt = started("api-response", event.attempt);
    if (attempt == nullptr) return;
    if (attempt->answered_at) {
      note(fmt::format("second api-response for attempt {}", event.attempt));
      return;
    }
    attempt->answered_at = envelope_.created;
    if (!attempt->finished_at) attempt->finished_at = envelope_.created;
    // Even after its timeout: an answer read before the terminal event counts (during the
    // backoff, or while a later attempt runs). Once the last attempt timed out, the request
    // is due to fail and the processor cancels the call, so no answer follows the failure.
    attempt->result = AttemptResult::succeeded;
    if (!state_.succeeded_attempt) state_.succeeded_attempt = event.attempt;
  }

  void operator()(const events::ApiFailure& event) {
    Attempt* attempt = started("api-failure", event.attempt);
    if (attempt == nullptr) return;
    if (attempt->failure_seen) {
      note(fmt::format("second api-failure for attempt {}", event.attempt));
      return;
    }
    attempt->failure_seen = true;
    if (attempt->answered_at) {
      note(fmt::format("api-failure for attempt {} after its api-response", event.attempt));
      return;
    }
    if (attempt->result != AttemptResult::in_flight) return;  // timed out first: counted once
    attempt->result = AttemptResult::failed;
    attempt->finished_at = envelope_.created;
    attempt->status = event.status;
    attempt->retryable = is_retryable(event, state_.retry_on);
    attempt->permanent = event.permanent;
    attempt->retry_after = retry_after_of(event.retry_after);
    attempt->failure = cut(event.failure, limits::failure_text_bytes_max);
  }

  void operator()(const events::ApiTimeout& event) {
    Attempt* attempt = started("api-timeout", event.attempt);
    if (attempt == nullptr) return;
    if (attempt->timeout_seen) {
      note(fmt::format("second api-timeout for attempt {}", event.attempt));
      return;
    }
    attempt->timeout_seen = true;
    // Failed or answered first: the timer raced the answer; counted once.
    if (attempt->result != AttemptResult::in_flight) return;
    attempt->result = AttemptResult::timed_out;
    attempt->finished_at = envelope_.created;
  }

  void operator()(const events::RequestSucceeded& event) {
    if (after_terminal()) return;
    state_.terminal = Terminal{.event = envelope_.id,
                               .outcome = Outcome::succeeded,
                               .attempts = event.attempts,
                               .reason = {}};
    if (!state_.succeeded_attempt) {
      note("request-succeeded, but no attempt was answered");
    } else if (event.attempt != *state_.succeeded_attempt) {
      note(fmt::format("request-succeeded names attempt {}, but attempt {} was answered first",
                       event.attempt, *state_.succeeded_attempt));
    }
    check_count("request-succeeded", event.attempts);
  }

  void operator()(const events::RequestFailed& event) {
    if (after_terminal()) return;
    const Plan next = plan(state_);
    state_.terminal = Terminal{.event = envelope_.id,
                               .outcome = Outcome::failed,
                               .attempts = event.attempts,
                               .reason = cut(event.reason, limits::failure_text_bytes_max)};
    if (state_.succeeded_attempt) {
      note(fmt::format("request-failed, but attempt {} succeeded", *state_.succeeded_attempt));
    } else if (next.kind == Plan::Kind::await) {
      note(fmt::format("request-failed while attempt {} was in flight", next.attempt));
    } else if (next.kind == Plan::Kind::start &&
               !(next.deadline && envelope_.created >= *next.deadline)) {
      note(fmt::format("request-failed while attempt {} was still allowed", next.attempt));
    }
    check_count("request-failed", event.attempts);
  }

  // No meaning to a request's state, whatever they point at.
  void operator()(const events::Configuration&) {}
  void operator()(const events::Simple&) {}
  void operator()(const events::Request&) {}
  void operator()(const events::Target&) {}
  void operator()(const events::BreakerOpened&) {}
  void operator()(const events::BreakerHalfOpened&) {}
  void operator()(const events::BreakerClosed&) {}
  // Not yet acted on (the retry and cancel of issue 12 give them their meaning).
  void operator()(const events::RequestCancelled&) {}
  void operator()(const events::RequestRetried&) {}

 private:
  // Records an anomaly of the current event, within the bound.
  void note(std::string text) {
    if (state_.anomalies.size() < limits::request_anomalies_max) {
      state_.anomalies.push_back(Anomaly{.event = envelope_.id, .text = std::move(text)});
    } else {
      ++state_.anomalies_dropped;
    }
  }

  // A terminal event was read before: notes the current event as an anomaly.
  bool after_terminal() {
    if (!state_.terminal) return false;
    note(fmt::format("{} after the terminal event {} (request {})",
                     events::class_name(envelope_.event), events::to_int(state_.terminal->event),
                     to_string(state_.terminal->outcome)));
    return true;
  }

  // The record of attempt `number`, or null (and an anomaly) if the event cannot apply to it.
  Attempt* started(std::string_view what, std::uint32_t number) {
    if (after_terminal()) return nullptr;
    if (number >= state_.attempts.size()) {
      note(fmt::format("{} for attempt {}, which was not started", what, number));
      return nullptr;
    }
    return &state_.attempts[number];
  }

  void check_count(std::string_view what, std::uint32_t attempts) {
    if (attempts != state_.attempts.size()) {
      note(fmt::format("{} counts {} attempts, {} were started", what, attempts,
                       state_.attempts.size()));
    }
  }

  RequestState& state_;
  const events::Envelope& envelope_;
};

}  // namespace

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::waiting:
      return "waiting";
    case Phase::in_flight:
      return "in_flight";
    case Phase::backing_off:
      return "backing_off";
    case Phase::succeeded:
      return "succeeded";
    case Phase::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::succeeded:
      return "succeeded";
    case Outcome::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(AttemptResult result) {
  switch (result) {
    case AttemptResult::in_flight:
      return "in flight";
    case AttemptResult::failed:
      return "failed";
    case AttemptResult::timed_out:
      return "timed out";
    case AttemptResult::succeeded:
      return "succeeded";
  }
  return "unknown";
}

events::Event terminal_event(const Finish& finish) {
  if (finish.outcome == Outcome::succeeded) {
    return events::RequestSucceeded{.attempts = finish.attempts, .attempt = finish.attempt};
  }
  return events::RequestFailed{.attempts = finish.attempts, .reason = finish.reason};
}

std::string describe(const Action& action) {
  return std::visit(
      Overloaded{
          [](const StartAttempt& a) { return fmt::format("start attempt {}", a.attempt); },
          [](const ArmTimeout& a) {
            return fmt::format("arm the timeout of attempt {} at {}", a.attempt,
                               events::format_time(a.at));
          },
          [](const RecordTimeout& a) {
            return fmt::format("record the timeout of attempt {}", a.attempt);
          },
          [](const ScheduleAttempt& a) {
            return fmt::format("schedule attempt {} at {}", a.attempt, events::format_time(a.at));
          },
          [](const Finish& a) {
            return a.outcome == Outcome::succeeded
                       ? fmt::format("finish: succeeded by attempt {} of {}", a.attempt, a.attempts)
                       : fmt::format("finish: failed after {} attempts: {}", a.attempts, a.reason);
          },
      },
      action);
}

RequestState start(const events::Envelope& request, const Policy& policy,
                   const RetryRule& retry_on) {
  API_BROKER_ASSERT(std::holds_alternative<events::Request>(request.event));
  API_BROKER_ASSERT(policy.retries <= limits::retries_max);
  return RequestState{.request = request.id,
                      .requested_at = request.created,
                      .policy = policy,
                      .retry_on = retry_on,
                      .last_event = request.id};
}

RequestState evolve(RequestState state, const events::Envelope& envelope) {
  API_BROKER_ASSERT(envelope.causation_id == state.request);
  if (events::to_int(envelope.id) <= events::to_int(state.last_event)) return state;
  state.last_event = envelope.id;
  std::visit(Fold(state, envelope), envelope.event);
  return state;
}

Actions decide(const RequestState& state, TimePoint now) {
  const Plan next = plan(state);
  switch (next.kind) {
    case Plan::Kind::done:
      return {};
    case Plan::Kind::finish:
      return {next.finish};
    case Plan::Kind::start:
      if (next.deadline && now >= *next.deadline) {
        return {failed(state, std::string(deadline_exceeded))};
      }
      if (!next.at || now >= *next.at) return {StartAttempt{.attempt = next.attempt}};
      return {ScheduleAttempt{.attempt = next.attempt, .at = *next.at}};
    case Plan::Kind::await:
      if (!next.at) return {};
      if (now >= *next.at) return {RecordTimeout{.attempt = next.attempt}};
      return {ArmTimeout{.attempt = next.attempt, .at = *next.at}};
  }
  API_BROKER_ASSERT(false);
  return {};
}

bool is_terminal(const RequestState& state) { return state.terminal.has_value(); }

Phase phase(const RequestState& state) {
  const auto outcome_phase = [](Outcome outcome) {
    return outcome == Outcome::succeeded ? Phase::succeeded : Phase::failed;
  };
  if (state.terminal) return outcome_phase(state.terminal->outcome);
  const Plan next = plan(state);
  switch (next.kind) {
    case Plan::Kind::finish:
      return outcome_phase(next.finish.outcome);
    case Plan::Kind::start:
      return next.attempt == 0 ? Phase::waiting : Phase::backing_off;
    case Plan::Kind::await:
      return Phase::in_flight;
    case Plan::Kind::done:
      break;
  }
  API_BROKER_ASSERT(false);  // done only when terminal, handled above
  return Phase::failed;
}

}  // namespace api_broker::core
