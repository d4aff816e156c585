#include "checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "api_broker/core/request_machine.hpp"
#include "api_broker/core/token_bucket.hpp"
#include "api_broker/events/codec.hpp"

namespace api_broker::sim {
namespace {

using events::Envelope;

// A round of a request: its terminal event's time, and the request-cancelled that ended it.
struct Round {
  std::optional<TimePoint> terminal_at;
  std::optional<std::uint64_t> cancel;  // its id
};

struct Attempts {
  std::map<std::uint32_t, TimePoint> started;           // attempt -> created of its api-request
  std::map<std::uint32_t, std::uint64_t> started_id;    // attempt -> id of its api-request
  std::map<std::uint32_t, Round> rounds{{0, Round{}}};  // by the number of their first attempt
  [[nodiscard]] Round& current() { return rounds.rbegin()->second; }
  [[nodiscard]] const Round& of(std::uint32_t attempt) const {
    return std::prev(rounds.upper_bound(attempt))->second;
  }
};

}  // namespace

std::vector<std::string> check_calls(const std::vector<Envelope>& log,
                                     const std::vector<ReceivedCall>& calls) {
  std::map<std::uint64_t, Attempts> requests;
  for (const Envelope& envelope : log) {
    if (std::holds_alternative<events::Request>(envelope.event)) {
      requests[events::to_int(envelope.id)];
      continue;
    }
    const auto it = requests.find(events::to_int(envelope.causation_id));
    if (it == requests.end()) continue;
    Attempts& attempts = it->second;
    if (const auto* request = std::get_if<events::ApiRequest>(&envelope.event)) {
      attempts.started.emplace(request->attempt, envelope.created);
      attempts.started_id.emplace(request->attempt, events::to_int(envelope.id));
    }
    if ((std::holds_alternative<events::RequestSucceeded>(envelope.event) ||
         std::holds_alternative<events::RequestFailed>(envelope.event)) &&
        !attempts.current().terminal_at) {
      attempts.current().terminal_at = envelope.created;
    }
    if (std::holds_alternative<events::RequestCancelled>(envelope.event) &&
        !attempts.current().terminal_at && !attempts.current().cancel) {
      attempts.current().cancel = events::to_int(envelope.id);
    }
    // A new round (verify checks that it is one): its calls follow the earlier terminal event.
    if (const auto* retried = std::get_if<events::RequestRetried>(&envelope.event);
        retried != nullptr && attempts.current().terminal_at &&
        retried->attempts >= attempts.rounds.rbegin()->first) {
      // A round without attempts leaves nothing to check: the next one replaces it.
      attempts.rounds.insert_or_assign(retried->attempts, Round{});
    }
  }
  std::vector<std::string> violations;
  std::set<std::pair<std::uint64_t, std::uint32_t>> sent;
  std::map<std::uint64_t, std::string> key_of;      // request -> its Idempotency-Key
  std::map<std::string, std::uint64_t> request_of;  // and back
  for (const ReceivedCall& call : calls) {
    const auto it = requests.find(call.request);
    if (it == requests.end()) {
      violations.push_back(
          fmt::format("the API was called for {}, which is not a request", call.request));
      continue;
    }
    const auto started = it->second.started.find(call.attempt);
    if (started == it->second.started.end() || started->second > call.at) {
      violations.push_back(
          fmt::format("request {}: attempt {} was sent before its api-request was committed",
                      call.request, call.attempt));
    }
    const Round& round = it->second.of(call.attempt);
    if (round.terminal_at && *round.terminal_at <= call.at) {
      violations.push_back(fmt::format(
          "request {}: attempt {} was sent at {} after the terminal event at {}", call.request,
          call.attempt, events::format_time(call.at), events::format_time(*round.terminal_at)));
    }
    const auto started_id = it->second.started_id.find(call.attempt);
    if (round.cancel && started_id != it->second.started_id.end() &&
        started_id->second > *round.cancel) {
      violations.push_back(
          fmt::format("request {}: attempt {}, started after request-cancelled {}, was sent",
                      call.request, call.attempt, *round.cancel));
    }
    const std::string& key = key_of.emplace(call.request, call.idempotency_key).first->second;
    const std::uint64_t owner =
        request_of.emplace(call.idempotency_key, call.request).first->second;
    if (key != call.idempotency_key || owner != call.request) {
      violations.push_back(fmt::format(
          "request {}: attempt {} carried Idempotency-Key '{}', not the request's own '{}'",
          call.request, call.attempt, call.idempotency_key, key));
    }
    if (!sent.emplace(call.request, call.attempt).second) {
      violations.push_back(
          fmt::format("request {}: attempt {} was sent twice", call.request, call.attempt));
    }
  }
  return violations;
}

std::vector<std::string> check_target_limits(
    const core::TargetLimits& limits, std::uint64_t calls_at_once_max_seen,
    const std::map<std::string, std::vector<TimePoint>>& attempt_times) {
  std::vector<std::string> violations;
  if (limits.calls_max > 0 && calls_at_once_max_seen > limits.calls_max) {
    violations.push_back(fmt::format("{} calls were out at once, above --calls-max {}",
                                     calls_at_once_max_seen, limits.calls_max));
  }
  if (limits.rate <= 0) return violations;
  const core::TokenBucket bucket(limits.rate, limits.burst);
  const auto interval = bucket.interval().count();
  for (const auto& [owner, times] : attempt_times) {
    std::size_t from = 0;  // in order: a sliding window below one second
    for (std::size_t to = 0; to < times.size(); ++to) {
      while (times[to] - times[from] >= std::chrono::seconds(1)) ++from;
      const auto allowed =
          bucket.burst() + static_cast<std::uint64_t>((times[to] - times[from]).count() / interval);
      if (to - from + 1 > allowed) {
        violations.push_back(fmt::format(
            "processor {}: {} attempts let go from {} to {}, above the {} the rate allows", owner,
            to - from + 1, events::format_time(times[from]), events::format_time(times[to]),
            allowed));
        break;
      }
    }
  }
  return violations;
}

std::vector<std::string> check_deadlines(const std::vector<Envelope>& log,
                                         const std::vector<Downtime>& downtimes,
                                         const std::set<std::uint64_t>& parked, Duration slack) {
  std::vector<std::string> violations;
  core::Policy policy;
  std::map<std::uint64_t, core::RequestState> open;
  auto down_between = [&](TimePoint from, TimePoint until) {
    for (const Downtime& d : downtimes) {
      if (d.from < until && d.until > from) return true;
    }
    return false;
  };
  for (const Envelope& envelope : log) {
    if (const auto* configuration = std::get_if<events::Configuration>(&envelope.event)) {
      if (auto applied = core::apply(policy, *configuration)) policy = *applied;
      continue;
    }
    const std::uint64_t id = events::to_int(envelope.id);
    if (std::holds_alternative<events::Request>(envelope.event)) {
      open.emplace(id, core::start(envelope, policy));
      continue;
    }
    const auto it = open.find(events::to_int(envelope.causation_id));
    if (it == open.end()) continue;
    it->second = core::evolve(std::move(it->second), envelope);
    if (!core::is_terminal(it->second)) continue;
    const core::RequestState& state = it->second;
    if (state.policy.deadline > Duration::zero() && parked.count(it->first) == 0) {
      const TimePoint deadline = state.round_started_at + state.policy.deadline;
      const TimePoint bound = deadline + state.policy.attempt_timeout + slack;
      if (envelope.created > bound && !down_between(deadline, envelope.created)) {
        violations.push_back(fmt::format(
            "request {}: terminal event at {}, {:.3f} s after its deadline (bound: one attempt "
            "timeout of {:.3f} s plus {:.3f} s)",
            it->first, events::format_time(envelope.created),
            to_seconds(envelope.created - deadline), to_seconds(state.policy.attempt_timeout),
            to_seconds(slack)));
      }
    }
    open.erase(it);
  }
  return violations;
}

}  // namespace api_broker::sim
