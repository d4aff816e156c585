#include "api_broker/broker/processor_core.hpp"

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "api_broker/assert.hpp"
#include "api_broker/broker/checkpoint.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/log_fields.hpp"

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;
using events::Envelope;
using events::EventId;

std::uint32_t attempt_of(const events::Event& event) {
  return std::visit(
      [](const auto& e) -> std::uint32_t {
        if constexpr (requires { e.attempt; }) {
          return e.attempt;
        } else {
          return 0;
        }
      },
      event);
}

bool is_terminal_event(std::size_t event_index) {
  return event_index == events::Event(events::RequestSucceeded{}).index() ||
         event_index == events::Event(events::RequestFailed{}).index();
}

std::string idempotency_key(const Envelope& request) {
  return request.external_uuid ? events::to_string(*request.external_uuid)
                               : fmt::format("api-broker-{}", events::to_int(request.id));
}

// `body` as stored: cut so that its JSON form takes at most `encoded_max` bytes (the store
// bounds the encoded event, and a control byte takes six there), never inside a UTF-8
// sequence. `cut` says the client already cut it at a byte count. True: it was cut.
std::pair<std::string, bool> fit_body(std::string body, bool cut, std::size_t encoded_max) {
  std::string_view whole = body;
  if (cut) whole = events::without_cut_sequence(whole);
  const std::size_t keep = events::json_string_prefix(whole, encoded_max);
  const bool truncated = cut || keep < body.size();
  body.resize(keep);
  return {std::move(body), truncated};
}

CallRules call_rules_of(const ProcessorOptions& options) {
  return CallRules{.api = Endpoint{.url = options.api},
                   .allowed = options.allowed,
                   .content_type_default = options.content_type_default};
}

// The api-failure text of a non-2xx answer: "HTTP 503", or where a redirect pointed.
std::string failure_text(const http::Response& response) {
  if (response.status >= 300 && response.status < 400) {
    return redirect_failure(response.status, response.location.value_or(""));
  }
  return fmt::format("HTTP {}", response.status);
}

}  // namespace

ProcessorCore::ProcessorCore(ProcessorPorts& ports, const ProcessorOptions& options,
                             core::Policy policy, std::shared_ptr<spdlog::logger> log,
                             std::shared_ptr<const Targets> targets)
    : ports_(ports),
      options_(options),
      log_(std::move(log)),
      policy_(std::make_shared<const core::Policy>(policy)),
      targets_(targets ? std::move(targets) : std::make_shared<const Targets>()),
      call_rules_(call_rules_of(options)),
      plain_call_(plain_call(call_rules_)),
      gate_(ports, options.default_target, [this](EventId id) { step(id); }) {
  // Targets defined before the resume point (the checkpoint's) limit their calls too.
  for (const auto& [name, definition] : targets_->all()) {
    gate_.set_limits(name, core::limits_of(definition.event));
  }
}

void ProcessorCore::on_events(const std::vector<Envelope>& batch, bool caught_up) {
  API_BROKER_ASSERT(!round_);  // the batch before was acknowledged: none is paused
  gate_.defer_wakes();
  batch_ = batch;
  batch_caught_up_ = caught_up;
  fold_batch(0);
}

void ProcessorCore::fold_batch(std::size_t next) {
  for (batch_next_ = next; batch_next_ < batch_.size();) {
    fold(batch_[batch_next_++]);
    if (round_) return;  // on_loaded() goes on
  }
  if (!batch_.empty()) stats_.position = batch_.back().id;
  if (batch_caught_up_) {
    if (!caught_up_once_) park_beyond_bound();
    caught_up_once_ = true;
    gate_.resume_wakes(ports_.now());
    for (const EventId id : dirty_) step(id);
    dirty_.clear();
  }
  publish_checkpoint(batch_.empty() ? EventId{} : batch_.back().id);
  batch_.clear();
  ports_.ack();
}

void ProcessorCore::on_loaded(const std::vector<EventId>& asked,
                              const std::vector<Envelope>& loaded) {
  API_BROKER_ASSERT(loaded.size() <= asked.size());  // the store worker's contract
  std::optional<Round> round;
  if (round_ &&
      std::find(asked.begin(), asked.end(), round_->retried.causation_id) != asked.end()) {
    round.swap(round_);
  }
  for (const Envelope& envelope : loaded) {
    if (round && envelope.id == round->retried.causation_id) {
      if (const auto* request = std::get_if<events::Request>(&envelope.event)) {
        start_round(envelope, *request, *round);
      } else {
        log_->warn("ignoring request-retried {}: event {} is not a request",
                   events::to_int(round->retried.id), events::to_int(envelope.id));
      }
      continue;
    }
    const auto it = loading_.find(envelope.id);
    const auto* request = std::get_if<events::Request>(&envelope.event);
    if (it == loading_.end() || request == nullptr) continue;
    const Parked parked = it->second;
    loading_.erase(it);
    if (parked.retried) {
      start_round(envelope, *request, Round{*parked.retried, parked.in_force});
    } else {
      admit(envelope, *request, parked.in_force);
    }
    if (active_.count(envelope.id) == 0) continue;
    if (const auto cancel = parked_cancels_.find(envelope.id); cancel != parked_cancels_.end()) {
      Active& active = active_.at(envelope.id);
      active.state = core::evolve(std::move(active.state), cancel->second);
      parked_cancels_.erase(cancel);
    }
    step(envelope.id);
  }
  // Those that could not be read stay unfinished in the log; a restart retries them.
  for (const EventId id : asked) {
    loading_.erase(id);
    parked_cancels_.erase(id);
  }
  unpark();
  if (round) {
    if (active_.count(round->retried.causation_id) == 0) {
      log_->warn("request-retried {}: request {} could not be read; its round does not start",
                 events::to_int(round->retried.id), events::to_int(round->retried.causation_id));
    }
    fold_batch(batch_next_);  // the reading goes on
  }
}

// Round `retried.round` of a request this run does not hold, under what is in force at the
// request-retried: as if its whole history had been folded (core::start_round()).
void ProcessorCore::start_round(const Envelope& request, const events::Request& event,
                                const Round& round) {
  std::shared_ptr<const CallPlan> call = is_plain(event)
                                             ? plain_call_
                                             : std::make_shared<const CallPlan>(plan_call(
                                                   event, *round.in_force.targets, call_rules_));
  auto state = core::start_round(request, round.retried, *round.in_force.policy, call->retry_on);
  if (!state) {
    log_->warn("ignoring request-retried {}: round or attempt count out of bounds",
               events::to_int(round.retried.id));
    return;
  }
  Active active;
  active.call = std::move(call);
  active.state = std::move(*state);
  active.targets = round.in_force.targets;
  active.body = event.request;
  active.idempotency_key = idempotency_key(request);
  active.target = event.target;
  active.since = round.retried.id;
  active.retried = std::make_shared<const Envelope>(round.retried);
  hold(request.id, std::move(active));
  log_->info("request {}: round {} from event {}", events::to_int(request.id),
             std::get<events::RequestRetried>(round.retried.event).round,
             events::to_int(round.retried.id));
  dirty_.insert(request.id);
  if (caught_up_once_) step(request.id);
}

void ProcessorCore::fold_not_held(const Envelope& envelope) {
  const EventId id = envelope.causation_id;
  const bool parked =
      loading_.count(id) != 0 ||
      std::any_of(parked_.begin(), parked_.end(), [&](const Parked& p) { return p.id == id; });
  if (std::holds_alternative<events::RequestCancelled>(envelope.event)) {
    // Parked or loading: it has no history yet; the cancel is folded once it is admitted.
    if (parked) parked_cancels_.emplace(id, envelope);
    return;
  }
  if (parked) return;  // an unfinished request: the retry is an anomaly, verify reports it
  // Dropped at its terminal event, or finished before the resume point. After the first
  // catch-up nothing of its round follows until it starts: it waits for a place like a new
  // request. Before, its round's events may follow: load it, and go on reading only then.
  if (caught_up_once_ && (!parked_.empty() || in_flight() >= options_.requests_in_flight_max)) {
    parked_.push_back(
        Parked{id, InForce{policy_, targets_}, std::make_shared<const Envelope>(envelope)});
    return;
  }
  round_ = Round{envelope, InForce{policy_, targets_}};
  ports_.load({id});
}

void ProcessorCore::shutdown() {
  stopping_ = true;
  gate_.stop();
  for (auto& [id, active] : active_) {
    ports_.cancel_timer(id);
    for (const auto& [attempt, call] : active.calls) ports_.cancel_call(call);
  }
}

void ProcessorCore::drain(Duration timeout) {
  if (drain_until_ || stopping_) return;
  drain_until_ = ports_.now() + timeout;
  log_->info("draining: {} calls in flight, up to {} s", calls_in_flight(),
             std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
}

std::size_t ProcessorCore::calls_in_flight() const {
  std::size_t calls = 0;
  for (const auto& [id, active] : active_) {
    calls += active.calls.size() + (active.held_back ? 1 : 0);
    if (active.pending &&
        active.pending->event_index == events::Event(events::ApiRequest{}).index()) {
      ++calls;
    }
  }
  return calls;
}

bool ProcessorCore::drain_over() {
  if (!drain_until_) return false;
  if (stopping_) return true;
  // Something appended and not read back (an answer, a timeout, a terminal event), or a call
  // still out: not over yet.
  const bool busy = std::any_of(active_.begin(), active_.end(), [](const auto& entry) {
    const Active& active = entry.second;
    return !active.calls.empty() || active.held_back || active.pending || active.unread_answers > 0;
  });
  if (busy && ports_.now() < *drain_until_) return false;
  if (busy) {
    log_->warn("drain timed out: {} calls still in flight, left to the next processor",
               calls_in_flight());
  } else {
    log_->info("drained: every call in flight answered and recorded");
  }
  shutdown();
  return true;
}

void ProcessorCore::on_lease_renewed() {
  // on_lease_lost() drops every call held back: none goes out after the lease was lost.
  API_BROKER_ASSERT(!lease_lost_ || held_back_.empty());
  if (stopping_ || held_back_.empty() || !ports_.lease_held()) return;
  std::set<EventId> ids;
  ids.swap(held_back_);
  for (const EventId id : ids) {
    const auto it = active_.find(id);
    if (it == active_.end() || !it->second.held_back) continue;
    const std::uint32_t attempt = *it->second.held_back;
    it->second.held_back.reset();
    launch(id, it->second, attempt);
  }
}

void ProcessorCore::on_lease_lost() {
  log_->error("lost the lease: sending and appending nothing more");
  lease_lost_ = true;
  for (auto& [id, active] : active_) active.held_back.reset();
  held_back_.clear();
  shutdown();
}

ProcessorStats ProcessorCore::stats() const {
  ProcessorStats copy = stats_;
  copy.active = in_flight();
  copy.parked = parked_.size();
  copy.waiting_for_target = gate_.waiting();
  return copy;
}

void ProcessorCore::fold_configuration(const Envelope& envelope,
                                       const events::Configuration& configuration) {
  auto policy = core::apply(*policy_, configuration);
  if (!policy) {
    log_->warn("ignoring configuration event {}: {}", events::to_int(envelope.id),
               policy.error().message);
    return;
  }
  policy_ = std::make_shared<const core::Policy>(*policy);
  log_->info(
      "policy from event {}: retries {}, timeout {:.3f}s, backoff {:.3f}s x{} max "
      "{:.3f}s jitter {}, deadline {:.3f}s",
      events::to_int(envelope.id), policy->retries, to_seconds(policy->attempt_timeout),
      to_seconds(policy->backoff_initial), policy->backoff_multiplier,
      to_seconds(policy->backoff_max), policy->backoff_jitter, to_seconds(policy->deadline));
}

void ProcessorCore::fold_target(const Envelope& envelope, const events::Target& target) {
  auto next = targets_->with(target);
  if (!next) {
    log_->warn("ignoring target event {}: {}", events::to_int(envelope.id), next.error().message);
    return;
  }
  targets_ = std::move(*next);
  // Limits protect the partner, not a request: they hold for every call from now on.
  gate_.set_limits(target.name, core::limits_of(target));
  log_->info("target {} from event {}: {}", target.name, events::to_int(envelope.id),
             target.removed ? std::string("removed") : target.url);
}

void ProcessorCore::log_read(const Envelope& envelope) {
  // The fields a JSON log line carries, to follow one request's story: its id is the
  // request's own, or the causation of the events about it (0: an event of no request).
  std::vector<LogField> fields{{"event_id", static_cast<std::int64_t>(events::to_int(envelope.id))},
                               {"class", std::string(events::class_name(envelope.event))}};
  const EventId request =
      std::holds_alternative<events::Request>(envelope.event) ? envelope.id : envelope.causation_id;
  if (request != events::no_event) {
    fields.push_back({"request_id", static_cast<std::int64_t>(events::to_int(request))});
  }
  if (envelope.external_uuid) {
    fields.push_back({"external_uuid", events::to_string(*envelope.external_uuid)});
  }
  const LogFields scope(std::move(fields));
  log_->debug("read {}", events::printable(events::envelope_to_line(envelope), 300));
}

void ProcessorCore::fold(const Envelope& envelope) {
  if (log_->should_log(spdlog::level::debug)) log_read(envelope);
  if (const auto* configuration = std::get_if<events::Configuration>(&envelope.event)) {
    fold_configuration(envelope, *configuration);
    return;
  }
  if (gate_.fold(envelope, caught_up_once_)) return;  // breaker events
  if (const auto* target = std::get_if<events::Target>(&envelope.event)) {
    fold_target(envelope, *target);
    return;
  }
  const EventId id = envelope.id;
  if (const auto* request = std::get_if<events::Request>(&envelope.event)) {
    ++stats_.requests_seen;
    // Until the first catch-up every unfinished request is admitted: their history may follow
    // in the same read. After it, a new request has no history yet and can wait, in order.
    if (caught_up_once_ && (!parked_.empty() || in_flight() >= options_.requests_in_flight_max)) {
      parked_.push_back(Parked{id, InForce{policy_, targets_}});
      return;
    }
    admit(envelope, *request, InForce{policy_, targets_});
    // The in-flight bound: after the first catch-up a request is admitted only below it.
    API_BROKER_ASSERT(!caught_up_once_ || in_flight() <= options_.requests_in_flight_max);
    dirty_.insert(id);
    return;
  }
  const auto it = active_.find(envelope.causation_id);
  if (it == active_.end()) {  // finished, or before our checkpoint, or not a request
    if (std::holds_alternative<events::RequestCancelled>(envelope.event) ||
        std::holds_alternative<events::RequestRetried>(envelope.event)) {
      fold_not_held(envelope);
    }
    return;
  }
  Active& active = it->second;
  active.state = core::evolve(std::move(active.state), envelope);
  const std::uint32_t attempt = attempt_of(envelope.event);
  const bool ours = active.pending && active.pending->event_index == envelope.event.index() &&
                    active.pending->attempt == attempt;
  if (ours) active.pending.reset();
  if (active.unread_answers > 0 && (std::holds_alternative<events::ApiResponse>(envelope.event) ||
                                    std::holds_alternative<events::ApiFailure>(envelope.event))) {
    --active.unread_answers;
  }
  // Write-ahead: it is committed now. Decided before a cancel that was read first: not sent.
  if (std::holds_alternative<events::ApiRequest>(envelope.event) && ours) {
    if (!active.state.cancelled) {
      launch(it->first, active, attempt);
    } else {
      gate_.ended(it->first, attempt, ports_.now());  // the slot it was let go with: unused
    }
  }
  if (core::is_terminal(active.state)) {
    finish(it, envelope.event);
    return;
  }
  dirty_.insert(it->first);
}

void ProcessorCore::admit(const Envelope& envelope, const events::Request& request,
                          const InForce& in_force) {
  Active active;
  if (is_plain(request)) {
    active.call = plain_call_;
  } else {
    active.call =
        std::make_shared<const CallPlan>(plan_call(request, *in_force.targets, call_rules_));
  }
  active.state = core::start(envelope, *in_force.policy, active.call->retry_on);
  active.targets = in_force.targets;
  active.body = request.request;
  active.idempotency_key = idempotency_key(envelope);
  active.target = request.target;
  active.since = envelope.id;
  hold(envelope.id, std::move(active));
}

void ProcessorCore::hold(EventId id, Active active) {
  const EventId since = active.since;
  const bool added = active_.emplace(id, std::move(active)).second;
  // A request is read once per run (or once per round), and parked or active, not both.
  API_BROKER_ASSERT(added);
  since_.emplace(since, id);
}

void ProcessorCore::finish(std::map<EventId, Active>::iterator it, const events::Event& terminal) {
  API_BROKER_ASSERT(core::is_terminal(it->second.state));
  if (std::holds_alternative<events::RequestSucceeded>(terminal)) ++stats_.succeeded;
  if (std::holds_alternative<events::RequestFailed>(terminal)) ++stats_.failed;
  ports_.cancel_timer(it->first);
  gate_.forget(it->first);  // before the slots it frees wake its target's queue
  end_calls(it->first, it->second);
  dirty_.erase(it->first);
  held_back_.erase(it->first);
  since_.erase({it->second.since, it->first});
  active_.erase(it);
  unpark();
}

// After a restart's catch-up: the newest requests that have not started, beyond the bound,
// wait for a place like requests arriving later (those with attempts keep theirs).
void ProcessorCore::park_beyond_bound() {
  std::vector<Parked> newest;
  for (auto it = active_.rbegin();
       it != active_.rend() && in_flight() > options_.requests_in_flight_max;) {
    const Active& active = it->second;
    if (active.state.attempts.size() > active.state.round_first || active.pending ||
        !active.calls.empty() || active.state.terminal || active.state.cancelled) {
      ++it;
      continue;
    }
    newest.push_back(
        Parked{it->first,
               InForce{std::make_shared<const core::Policy>(active.state.policy), active.targets},
               active.retried});
    dirty_.erase(it->first);
    since_.erase({active.since, it->first});
    it = std::make_reverse_iterator(active_.erase(std::next(it).base()));
  }
  // In the order of their positions (a round's is its request-retried), as those parked later.
  std::sort(newest.begin(), newest.end(), [](const Parked& a, const Parked& b) {
    return events::to_int(a.position()) < events::to_int(b.position());
  });
  parked_.insert(parked_.begin(), newest.begin(), newest.end());
}

// Asks the store worker for as many parked requests as there are free places.
void ProcessorCore::unpark() {
  std::vector<EventId> ids;
  while (!parked_.empty() && in_flight() < options_.requests_in_flight_max) {
    Parked next = std::move(parked_.front());
    parked_.pop_front();
    ids.push_back(next.id);
    loading_.emplace(next.id, std::move(next));
  }
  API_BROKER_ASSERT(loading_.size() <= options_.requests_in_flight_max);  // the in-flight bound
  if (!ids.empty()) ports_.load(std::move(ids));
}

void ProcessorCore::append(EventId id, Active& active, events::Event event, bool decision) {
  if (lease_lost_) return;  // the store would refuse it: the successor decides now
  API_BROKER_ASSERT(!core::is_terminal(active.state));  // finish() dropped it then
  if (decision) {
    // A decision is taken only on a state that holds every answer received: none unread.
    API_BROKER_ASSERT(active.unread_answers == 0);
    API_BROKER_ASSERT(!stopping_);
    active.pending = Pending{event.index(), attempt_of(event)};
  } else {
    ++active.unread_answers;
  }
  std::vector<events::NewEvent> batch;
  batch.push_back(events::NewEvent{.event = std::move(event), .causation_id = id});
  ports_.append(std::move(batch));
}

// Asks the state machine what is due for request `id` and does it.
void ProcessorCore::step(EventId id) {
  if (stopping_) return;
  const auto it = active_.find(id);
  if (it == active_.end()) return;
  Active& active = it->second;
  // Decide again once what we appended is read back: a decision on a state that misses an
  // answer already received could start a retry after a success.
  if (active.pending || active.unread_answers > 0) return;
  const core::RequestState& state = active.state;
  API_BROKER_ASSERT(!core::is_terminal(state));  // finish() dropped it then
  // An attempt started by an earlier run of the processor and never answered: nobody is
  // waiting for its answer any more, so it counts as timed out.
  if (state.attempts.size() > state.round_first && !state.terminal && !state.succeeded_attempt &&
      !state.cancelled) {
    const auto newest = static_cast<std::uint32_t>(state.attempts.size() - 1);
    if (state.attempts.back().result == core::AttemptResult::in_flight &&
        active.calls.count(newest) == 0 && active.held_back != newest) {
      log_->info("request {}: attempt {} was started before a restart; counting it as timed out",
                 events::to_int(id), newest);
      append(id, active, events::ApiTimeout{newest}, true);
      return;
    }
  }
  for (const core::Action& action : core::decide(state, ports_.now())) {
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, core::StartAttempt>) {
            if (!drain_until_) start_attempt(id, active, a.attempt);  // draining: none starts
          } else if constexpr (std::is_same_v<A, core::RecordTimeout>) {
            record_timeout(id, active, a.attempt);
          } else if constexpr (std::is_same_v<A, core::Finish>) {
            // Decided: an answer that comes now is not waited for, and not recorded. Off its
            // target's queue first: the slots end_calls() frees wake the queue, not this one.
            gate_.forget(id);
            end_calls(id, active);
            append(id, active, core::terminal_event(a), true);
          } else {  // ArmTimeout, ScheduleAttempt: wake then and decide again
            arm(id, active, a.at);
          }
        },
        action);
  }
}

// The attempt goes only when its target's gate lets it (a call slot, a token, the breaker);
// until then it waits in the target's queue and its api-request is not appended, so the log's
// start time is when it went. The deadline still holds meanwhile.
void ProcessorCore::start_attempt(EventId id, Active& active, std::uint32_t attempt) {
  const TimePoint now = ports_.now();
  if (gate_.admit(active.target, id, attempt, now)) {
    append(id, active, events::ApiRequest{attempt}, true);
    return;
  }
  const core::Policy& policy = active.state.policy;
  if (policy.deadline > Duration::zero()) {
    arm(id, active, active.state.round_started_at + policy.deadline);
  }
}

// A timeout counts as a failure for the target's breaker. Kept (on_timeout keep), the call
// stays open with its slot and its late answer still counts; abandoned, it is cancelled (its
// connection closed) and its slot frees now, so nothing overlaps the retry.
void ProcessorCore::record_timeout(EventId id, Active& active, std::uint32_t attempt) {
  append(id, active, events::ApiTimeout{attempt}, true);
  const TimePoint now = ports_.now();
  gate_.outcome(id, attempt, true, now);
  if (!gate_.abandons_on_timeout(active.target)) return;
  if (const auto call = active.calls.find(attempt); call != active.calls.end()) {
    ports_.cancel_call(call->second);
    active.calls.erase(call);
  }
  if (active.held_back == attempt) {
    active.held_back.reset();
    held_back_.erase(id);
  }
  gate_.ended(id, attempt, now);
}

// Cancels the request's calls (and one held back for the lease) and frees their slots.
void ProcessorCore::end_calls(EventId id, Active& active) {
  std::vector<std::uint32_t> ended;
  for (const auto& [attempt, call] : active.calls) {
    ports_.cancel_call(call);
    ended.push_back(attempt);
  }
  active.calls.clear();
  if (active.held_back) ended.push_back(*active.held_back);
  active.held_back.reset();
  held_back_.erase(id);
  const TimePoint now = ports_.now();
  for (const std::uint32_t attempt : ended) gate_.ended(id, attempt, now);
}

void ProcessorCore::arm(EventId id, Active& active, TimePoint at) {
  if (active.timer_at == at) return;
  active.timer_at = at;
  ports_.set_timer(id, at);
}

void ProcessorCore::on_target_timer(std::string_view target) {
  if (stopping_) return;
  gate_.on_timer(target, ports_.now());
}

void ProcessorCore::on_timer(EventId request) {
  const auto it = active_.find(request);
  if (it == active_.end()) return;
  it->second.timer_at.reset();
  step(request);
}

// The HTTP call of attempt `attempt`; its result is appended as a fact, whatever the state.
void ProcessorCore::launch(EventId id, Active& active, std::uint32_t attempt) {
  if (stopping_) return;
  API_BROKER_ASSERT(!lease_lost_);
  // No call after the request's terminal event was decided or read.
  API_BROKER_ASSERT(!active.state.terminal);
  API_BROKER_ASSERT(!active.pending || !is_terminal_event(active.pending->event_index));
  API_BROKER_ASSERT(attempt < active.state.attempts.size());  // its api-request was read back
  API_BROKER_ASSERT(active.calls.count(attempt) == 0);        // one call per attempt at a time
  if (!ports_.lease_held()) {  // it may have been lost (a pause, a stalled store): wait
    active.held_back = attempt;
    held_back_.insert(id);
    return;
  }
  if (!active.call->refused.empty()) {  // no call can go out: the attempt fails for good
    fail_at_once(id, active, attempt, active.call->refused);
    return;
  }
  ++stats_.attempts_started;
  const core::Policy& policy = active.state.policy;
  // The call may outlive its attempt timeout: a late answer still counts as success.
  std::chrono::milliseconds limit{0};
  if (policy.attempt_timeout > Duration::zero()) {
    limit = std::chrono::duration_cast<std::chrono::milliseconds>(2 * policy.attempt_timeout) + 1s;
  } else if (policy.deadline > Duration::zero()) {
    limit = std::chrono::duration_cast<std::chrono::milliseconds>(policy.deadline) + 1s;
  }
  const std::uint64_t call = ports_.call_api(ApiCall{.request = id,
                                                     .attempt = attempt,
                                                     .body = active.body,
                                                     .idempotency_key = active.idempotency_key,
                                                     .limit = limit,
                                                     .plan = active.call.get()});
  active.calls.emplace(attempt, call);
}

// An attempt that cannot be sent (see CallPlan::refused): recorded as a permanent failure
// without a call, so the request fails with the reason and `verify` replays it.
void ProcessorCore::fail_at_once(EventId id, Active& active, std::uint32_t attempt,
                                 const std::string& reason) {
  log_->warn("request {}: attempt {} not sent: {}", events::to_int(id), attempt, reason);
  append(id, active,
         events::ApiFailure{.attempt = attempt, .failure = reason, .status = 0, .permanent = true},
         false);
  gate_.ended(id, attempt, ports_.now());  // the slot it was let go with: no call holds it
}

// Records the answer, then tells the target's gate: after the append, so that a request the
// freed slot wakes (this one too) decides on a state that holds this answer.
void ProcessorCore::on_answer(EventId request, std::uint32_t attempt,
                              Result<http::Response> answer) {
  const bool fenced = !answer && answer.error().code == Errc::fenced;
  const bool cancelled = !answer && answer.error().code == Errc::cancelled;
  // For the breaker: a partner that answers 4xx works; one that fails as a retry would be
  // made for does not.
  const bool failed = !answer || (!(answer->status >= 200 && answer->status < 300) &&
                                  core::is_retryable(events::ApiFailure{.status = answer->status}));
  append_answer(request, attempt, std::move(answer));
  if (fenced || stopping_) return;  // fenced: it was not sent, and keeps its slot
  const TimePoint now = ports_.now();
  if (!cancelled) gate_.outcome(request, attempt, failed, now);
  gate_.ended(request, attempt, now);
}

void ProcessorCore::append_answer(EventId request, std::uint32_t attempt,
                                  Result<http::Response> answer) {
  const auto it = active_.find(request);
  if (it == active_.end()) return;  // finished meanwhile
  Active& active = it->second;
  API_BROKER_ASSERT(!core::is_terminal(active.state));  // finish() dropped it then
  active.calls.erase(attempt);
  if (active.pending && is_terminal_event(active.pending->event_index)) return;  // decided
  if (!answer) {
    if (answer.error().code == Errc::cancelled) return;
    if (answer.error().code == Errc::fenced) {  // not sent: the lease was not known to be held
      --stats_.attempts_started;                // counted again when it goes out
      if (!lease_lost_ && !stopping_) {
        active.held_back = attempt;
        held_back_.insert(request);
      }
      return;
    }
    // A bad call (a secret that cannot be resolved, a header the client refuses) or a
    // certificate that failed verification fails the same way every time: retrying cannot help.
    const bool permanent =
        answer.error().code == Errc::invalid_input || answer.error().code == Errc::rejected;
    if (!permanent) report_unreachable(to_string(active.call->endpoint), answer.error().message);
    append(request, active,
           events::ApiFailure{.attempt = attempt,
                              .failure = answer.error().message,
                              .status = 0,
                              .permanent = permanent},
           false);
    return;
  }
  http::Response& response = *answer;
  if (response.status >= 200 && response.status < 300) {
    auto [body, truncated] =
        fit_body(std::move(response.body), response.truncated, options_.response_bytes_stored_max);
    append(request, active,
           events::ApiResponse{.attempt = attempt,
                               .response = std::move(body),
                               .status = response.status,
                               .truncated = truncated},
           false);
    return;
  }
  const std::size_t excerpt_max =
      std::min(limits::failure_body_bytes_max, options_.response_bytes_stored_max);
  const bool cut = response.truncated || response.body.size() > excerpt_max;
  if (response.body.size() > excerpt_max) response.body.resize(excerpt_max);
  auto [excerpt, truncated] = fit_body(std::move(response.body), cut, excerpt_max);
  append(request, active,
         events::ApiFailure{.attempt = attempt,
                            .failure = failure_text(response),
                            .status = response.status,
                            .body = std::move(excerpt),
                            .retry_after = response.retry_after_seconds.value_or(-1),
                            .truncated = truncated},
         false);
}

// The API cannot be reached: say so, at most every 5 s, with how often it happened.
void ProcessorCore::report_unreachable(const std::string& where, const std::string& message) {
  ++unreachable_since_report_;
  const TimePoint now = ports_.now();
  if (unreachable_reported_at_ && now - *unreachable_reported_at_ < 5s) return;
  log_->warn("calls to {} fail: {} ({} failed calls without an answer since the last report)",
             where, message, unreachable_since_report_);
  unreachable_reported_at_ = now;
  unreachable_since_report_ = 0;
}

// The oldest unfinished request (active, being loaded or parked) bounds the checkpoint.
void ProcessorCore::publish_checkpoint(EventId last) {
  if (last == EventId{}) return;
  Checkpoint checkpoint{last, *policy_, targets_};
  auto consider = [&](EventId id, const core::Policy& policy,
                      const std::shared_ptr<const Targets>& targets) {
    const std::uint64_t before = events::to_int(id) - 1;
    if (before < events::to_int(checkpoint.after)) {
      checkpoint = Checkpoint{EventId{before}, policy, targets};
    }
  };
  if (!since_.empty()) {  // the oldest position a held request must be read again from
    const Active& oldest = active_.at(since_.begin()->second);
    consider(since_.begin()->first, oldest.state.policy, oldest.targets);
  }
  for (const auto& [id, loading] : loading_) {  // at most the in-flight bound
    consider(loading.position(), *loading.in_force.policy, loading.in_force.targets);
  }
  if (!parked_.empty()) {  // in the order of their positions
    consider(parked_.front().position(), *parked_.front().in_force.policy,
             parked_.front().in_force.targets);
  }
  API_BROKER_ASSERT(events::to_int(checkpoint.after) <= events::to_int(last));
  ports_.set_checkpoint(encode_checkpoint(checkpoint));
}

}  // namespace api_broker::broker
