#pragma once
// The request state machine: the one implementation of the broker's rules, shared by the
// processor, watch-requests, verify and every status view. Pure: no I/O, no threads, no clock
// reads, no logging; time comes in as values.
//
//   RequestState s = start(request_envelope, policy_in_force);
//   s = evolve(std::move(s), envelope);   // each later event caused by the request, in id order
//   Actions due = decide(s, now);         // what to do now; the same until a new event arrives
//
// The log is input: any event may be odd (inserted by hand, written by a buggy version). Odd
// events never assert; evolve() records them as anomalies and otherwise ignores them.
//
// Rounds and cancels (issue 12):
// - request-cancelled read while the request is unfinished and no attempt was answered: the
//   request is due to fail with the reason "cancelled" (": <reason>" when one is given); no
//   attempt starts any more. An attempt in flight at the cancel is abandoned: its late answer,
//   read after the cancel, is recorded but no longer counts. An api-request read after the
//   cancel (the processor decided it before reading the cancel) is recorded, never sent; an
//   api-response or api-failure of such an attempt is an anomaly (a call after the cancel).
//   A cancel read after an answer changes nothing (the outcome is known); one read after the
//   terminal event, or a second one, is an anomaly.
// - request-retried read after the round's request-failed, naming the next round and the
//   attempts started so far: a new round. The request is unfinished again; attempts go on
//   numbering, the round has the policy's retries (cut so that numbers stay within
//   limits::retries_max), its deadline counts from the request-retried's created time, and a
//   new terminal event ends it. Retrying an unfinished or succeeded request, with the wrong
//   round or count, or beyond limits::request_rounds_max rounds, is an anomaly and changes
//   nothing. A round runs under the policy and target rule in force when its request-retried
//   is read: readers that follow configuration events (the processor, verify) start it with
//   start_round(); evolve() keeps the state's own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api_broker/core/policy.hpp"
#include "api_broker/core/retry_rule.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/time.hpp"

namespace api_broker::core {

// Where a request stands. succeeded/failed: its outcome is known (a terminal event may still
// have to be appended; see is_terminal()).
enum class Phase : std::uint8_t { waiting, in_flight, backing_off, succeeded, failed };
std::string_view to_string(Phase phase);

enum class Outcome : std::uint8_t { succeeded, failed };
std::string_view to_string(Outcome outcome);

// The actions decide() returns. The processor performs each one, appends the event it names,
// and decides again only after reading that event back.

// Append api-request{attempt}; once committed, send the request.
struct StartAttempt {
  std::uint32_t attempt = 0;
  friend bool operator==(const StartAttempt&, const StartAttempt&) = default;
};
// Attempt `attempt` is in flight: wake at `at` and decide again (it will be RecordTimeout).
struct ArmTimeout {
  std::uint32_t attempt = 0;
  TimePoint at{};
  friend bool operator==(const ArmTimeout&, const ArmTimeout&) = default;
};
// Attempt `attempt` ran out of time: append api-timeout{attempt} now.
struct RecordTimeout {
  std::uint32_t attempt = 0;
  friend bool operator==(const RecordTimeout&, const RecordTimeout&) = default;
};
// Attempt `attempt` is due at `at` (backoff or Retry-After): wake then and decide again.
struct ScheduleAttempt {
  std::uint32_t attempt = 0;
  TimePoint at{};
  friend bool operator==(const ScheduleAttempt&, const ScheduleAttempt&) = default;
};
// Append the terminal event: request-succeeded{attempts, attempt} or
// request-failed{attempts, reason}. `attempt` is the attempt that succeeded (0 when failed);
// `reason` is empty when succeeded.
struct Finish {
  Outcome outcome = Outcome::failed;
  std::uint32_t attempts = 0;
  std::uint32_t attempt = 0;
  std::string reason{};
  friend bool operator==(const Finish&, const Finish&) = default;
};

using Action = std::variant<StartAttempt, ArmTimeout, RecordTimeout, ScheduleAttempt, Finish>;
using Actions = std::vector<Action>;

// The event a Finish appends (RequestSucceeded or RequestFailed).
events::Event terminal_event(const Finish& finish);

// One line for logs and test failures, e.g. "schedule attempt 2 at 2026-11-27T20:52:30.123456Z".
std::string describe(const Action& action);

enum class AttemptResult : std::uint8_t { in_flight, failed, timed_out, succeeded };
std::string_view to_string(AttemptResult result);

// One attempt, from its api-request and the events that ended it.
struct Attempt {
  TimePoint started_at{};  // created of its api-request
  // The first ending read; an api-response overrides a failure or timeout (a late answer).
  AttemptResult result = AttemptResult::in_flight;
  // Created of its first api-failure/-timeout/-response: the next retry is timed from here.
  std::optional<TimePoint> finished_at{};
  std::optional<TimePoint> answered_at{};  // created of its api-response, even a late one
  bool failure_seen = false;               // an api-failure was read (first or not)
  bool timeout_seen = false;               // an api-timeout was read (first or not)
  // From the api-failure, when it ended the attempt:
  std::int32_t status = 0;                // HTTP status; 0 = no answer
  bool retryable = false;                 // is_retryable() of it under the request's rule
  bool permanent = false;                 // it was marked permanent (e.g. a failed certificate)
  std::optional<Duration> retry_after{};  // its Retry-After, capped at limits::retry_after_max
  std::string failure{};                  // its text, cut to limits::failure_text_bytes_max
  friend bool operator==(const Attempt&, const Attempt&) = default;
};

// A request-cancelled that took effect in the current round.
struct Cancel {
  events::EventId event{};
  std::string reason{};        // cut to limits::failure_text_bytes_max
  std::uint32_t attempts = 0;  // attempts started when it was read
  friend bool operator==(const Cancel&, const Cancel&) = default;
};

// An event that broke the rules; recorded for verify, ignored by decide().
struct Anomaly {
  events::EventId event{};
  std::string text{};
  friend bool operator==(const Anomaly&, const Anomaly&) = default;
};

// A terminal event that was read.
struct Terminal {
  events::EventId event{};
  Outcome outcome = Outcome::failed;
  std::uint32_t attempts = 0;  // as the event states them
  std::string reason{};        // request-failed's reason, cut to limits::failure_text_bytes_max
  friend bool operator==(const Terminal&, const Terminal&) = default;
};

// Everything the broker knows about one request. A value: copy it, compare it, fold it again
// from the log and get the same. Bounded: attempts.size() <= round_first + policy.retries + 1
// and <= limits::retries_max + 1, round <= limits::request_rounds_max,
// anomalies.size() <= limits::request_anomalies_max, texts are cut.
struct RequestState {
  events::EventId request{};        // id of the request event
  TimePoint requested_at{};         // its created time; the deadline counts from here
  Policy policy{};                  // in force when it arrived
  RetryRule retry_on{};             // its target's, when it arrived (else the default)
  std::vector<Attempt> attempts{};  // index = attempt number
  std::optional<std::uint32_t> succeeded_attempt{};  // the first attempt answered
  std::optional<Terminal> terminal{};                // the current round's terminal event
  std::uint32_t round = 0;        // 0: the first; each request-retried that took effect adds one
  std::uint32_t round_first = 0;  // the number of the round's first attempt
  TimePoint round_started_at{};   // requested_at, or the round's request-retried's created
  std::optional<Cancel> cancelled{};  // in the current round
  std::vector<Anomaly> anomalies{};
  std::uint64_t anomalies_dropped = 0;  // anomalies beyond limits::request_anomalies_max
  events::EventId last_event{};         // the newest event folded; older ones are skipped
  friend bool operator==(const RequestState&, const RequestState&) = default;
};

// The state of a new request, retried under `retry_on` (its target's rule, in force when it
// arrived). REQUIRES: `request` holds an events::Request; `policy` valid (as apply() returns).
RequestState start(const events::Envelope& request, const Policy& policy,
                   const RetryRule& retry_on = {});

// Folds one event caused by the request into its state. Events with an id not above
// last_event (already folded, e.g. re-delivered by a reconnecting follower) change nothing.
// Configuration, simple and request events have no meaning here and are ignored.
// REQUIRES: envelope.causation_id == state.request.
RequestState evolve(RequestState state, const events::Envelope& envelope);

// What is due at `now`, per the rules:
// - a terminal event was read (in the current round): nothing;
// - an attempt was answered (even late, after its timeout): Finish succeeded;
// - a request-cancelled took effect: Finish failed "cancelled[: reason]";
// - no attempt yet in the round: StartAttempt{round_first}, or Finish failed "deadline
//   exceeded" if the deadline (counted from round_started_at) passed;
// - newest attempt in flight: its end is started_at + attempt_timeout, clipped to the deadline;
//   RecordTimeout once now >= end, ArmTimeout{end} before; nothing if it has no end;
// - newest attempt failed or timed out (counted once, whichever came first): Finish failed if
//   the failure is not retryable or no retry is left in the round; else the next attempt is due
//   at finished_at + (Retry-After, or backoff_delay() of its number within the round: each
//   round's backoff starts over): Finish failed "deadline exceeded" if that or
//   `now` is at or past the deadline, StartAttempt once due, ScheduleAttempt before.
// At most one action. The same state and `now` give the same actions.
Actions decide(const RequestState& state, TimePoint now);

// The state of round `retried.round` of a request, for a reader that dropped the request at its
// terminal event and now reads its request-retried (`retried`, caused by `request`): it trusts
// the event's round and attempt count (the attempts before the round are placeholders), and the
// round runs under `policy` and `retry_on`. A reader that folded the whole history gets the
// same decisions from evolve(). Nothing if the event's numbers are out of bounds (no round
// can start). REQUIRES: `request` holds an events::Request and `retried` an
// events::RequestRetried; `policy` valid.
std::optional<RequestState> start_round(const events::Envelope& request,
                                        const events::Envelope& retried, const Policy& policy,
                                        const RetryRule& retry_on = {});

// Why a request-cancelled appended now would change nothing ("already finished ..."), or
// nothing if it would take effect; for the commands and the HTTP service that append one.
std::optional<std::string> cannot_cancel(const RequestState& state);
// Why a request-retried appended now would change nothing, or nothing if it would start a
// round.
std::optional<std::string> cannot_retry(const RequestState& state);
// The request-retried that starts the next round (its external UUID: events::retry_uuid()).
// REQUIRES: !cannot_retry(state).
events::RequestRetried retried_event(const RequestState& state, std::string reason);

// A terminal event was read: the processor can drop the request.
bool is_terminal(const RequestState& state);

// Where the request stands, without a clock: waiting (no attempt yet), in_flight, backing_off
// (a retry will be due), or its known outcome (even before the terminal event is appended).
Phase phase(const RequestState& state);

}  // namespace api_broker::core
