// Commands that read requests through the state machine: watch-requests and verify.

#include <fmt/format.h>

#include <map>
#include <optional>
#include <string_view>

#include "api_broker/broker/audit.hpp"
#include "api_broker/broker/call_builder.hpp"
#include "api_broker/broker/resume_point.hpp"
#include "api_broker/core/request_machine.hpp"
#include "api_broker/events/codec.hpp"
#include "context.hpp"

namespace api_broker::cli {
namespace {

struct WatchArgs {
  std::string start_after;
  bool json = false;
};

// Folds the followed log into request states and prints each change of phase.
// Memory: one state per unfinished request; finished ones are dropped.
class RequestWatcher {
 public:
  RequestWatcher(core::Policy policy, std::shared_ptr<const broker::Targets> targets, bool json)
      : policy_(policy),
        targets_(targets ? std::move(targets) : std::make_shared<const broker::Targets>()),
        json_(json) {}

  // Takes one event; false once stdout is closed.
  bool take(const events::Envelope& envelope) {
    if (const auto* c = std::get_if<events::Configuration>(&envelope.event)) {
      if (auto next = core::apply(policy_, *c)) policy_ = *next;
      return true;
    }
    if (const auto breaker = breaker_change(envelope.event)) {
      return print_breaker(envelope, *breaker);
    }
    if (const auto* t = std::get_if<events::Target>(&envelope.event)) {
      if (auto next = targets_->with(*t)) targets_ = std::move(*next);
      return true;
    }
    if (const auto* request = std::get_if<events::Request>(&envelope.event)) {
      core::RetryRule rule;
      if (auto target = broker::find_target(*targets_, request->target);
          !request->target.empty() && target) {
        rule = (*target)->retry_on;
      }
      Watched watched{core::start(envelope, policy_, rule), core::Phase::waiting,
                      broker::describe_destination(*request)};
      watched.shown = core::phase(watched.state);
      const bool open = print(envelope, events::to_int(envelope.id), watched);
      requests_.emplace(events::to_int(envelope.id), std::move(watched));
      return open;
    }
    auto it = requests_.find(events::to_int(envelope.causation_id));
    if (it == requests_.end()) {
      // A request dropped at its terminal event (or before the start) retried: its new round,
      // under the policy in force now (as the processor runs it) and the default rule.
      if (std::holds_alternative<events::RequestRetried>(envelope.event)) {
        const events::Envelope request{
            .id = envelope.causation_id, .created = envelope.created, .event = events::Request{}};
        if (auto state = core::start_round(request, envelope, policy_)) {
          std::string round = fmt::format("round {}", state->round);
          Watched watched{std::move(*state), core::Phase::waiting, std::move(round)};
          watched.shown = core::phase(watched.state);
          const bool open = print(envelope, events::to_int(envelope.causation_id), watched);
          requests_.emplace(events::to_int(envelope.causation_id), std::move(watched));
          return open;
        }
      }
      return true;
    }
    Watched& watched = it->second;
    watched.state = core::evolve(std::move(watched.state), envelope);
    const core::Phase phase = core::phase(watched.state);
    const bool terminal = core::is_terminal(watched.state);
    const bool changed = phase != watched.shown;
    watched.shown = phase;
    const bool open = !changed || print(envelope, it->first, watched);
    if (terminal) requests_.erase(it);
    return open;
  }

 private:
  struct Watched {
    core::RequestState state;
    core::Phase shown;
    std::string destination;  // "POST <api-url>/api", "GET target orders/x", ...
  };

  [[nodiscard]] bool print(const events::Envelope& envelope, std::uint64_t request,
                           const Watched& watched) const {
    const core::RequestState& state = watched.state;
    const core::Phase phase = watched.shown;
    const std::size_t attempts = state.attempts.size();
    const auto attempt = attempts == 0 ? 0 : attempts - 1;
    if (json_) {
      return print_line(
          fmt::format(
              R"({{"request":{},"phase":"{}","attempt":{},"attempts":{},"event":{},"at":"{}","destination":{}}})",
              request, core::to_string(phase), attempt, attempts, events::to_int(envelope.id),
              events::format_time(envelope.created), events::json_string(watched.destination)),
          true);
    }
    return print_line(
        fmt::format("{} request {} {} (attempt {}, {} started) at event {}: {}",
                    events::format_time(envelope.created), request, core::to_string(phase), attempt,
                    attempts, events::to_int(envelope.id), watched.destination),
        true);
  }

  // A target's breaker changed: its target, new phase and reason.
  struct BreakerChange {
    std::string_view target, phase, reason;
  };
  static std::optional<BreakerChange> breaker_change(const events::Event& event) {
    if (const auto* e = std::get_if<events::BreakerOpened>(&event)) {
      return BreakerChange{e->target, "open", e->reason};
    }
    if (const auto* e = std::get_if<events::BreakerHalfOpened>(&event)) {
      return BreakerChange{e->target, "half-open", ""};
    }
    if (const auto* e = std::get_if<events::BreakerClosed>(&event)) {
      return BreakerChange{e->target, "closed", e->reason};
    }
    return std::nullopt;
  }

  [[nodiscard]] bool print_breaker(const events::Envelope& envelope,
                                   const BreakerChange& change) const {
    if (json_) {
      return print_line(
          fmt::format(R"({{"target":{},"breaker":"{}","reason":{},"event":{},"at":"{}"}})",
                      events::json_string(change.target), change.phase,
                      events::json_string(change.reason), events::to_int(envelope.id),
                      events::format_time(envelope.created)),
          true);
    }
    return print_line(
        fmt::format("{} target '{}' breaker {}{}{} at event {}",
                    events::format_time(envelope.created), events::printable(change.target, 64),
                    change.phase, change.reason.empty() ? "" : ": ",
                    events::printable(change.reason, 200), events::to_int(envelope.id)),
        true);
  }

  core::Policy policy_;
  std::shared_ptr<const broker::Targets> targets_;
  bool json_;
  std::map<std::uint64_t, Watched> requests_;
};

int watch_requests(Context& context, const WatchArgs& args) {
  events::EventId after{};
  if (!args.start_after.empty()) {
    auto id = events::parse_event_id(args.start_after);
    if (!id) return report(id.error());
    after = *id;
  }
  auto store = context.open_store(store::Access::read);
  if (!store) return report(store.error());
  // Starting mid-log, requests after `after` follow the policy in force there.
  core::Policy policy;
  std::shared_ptr<const broker::Targets> targets;
  if (!args.start_after.empty()) {
    auto resumed = broker::load_resume_point(**store, "processor", after);
    if (!resumed) return report(resumed.error());
    policy = resumed->policy;
    targets = resumed->targets;
  }
  RequestWatcher watcher(policy, std::move(targets), args.json);
  StopSignal stop;
  StopOnSignals on_signals(stop);
  StopWhenStdoutCloses on_closed_output(stop);
  auto done = context.follow(
      std::move(*store), after, stop,
      [&](const events::Envelope& envelope) { return watcher.take(envelope); },
      [](const Error& error) {
        fmt::print(stderr, "api-broker: {}\n", error.message);
        return true;
      });
  if (!done) return report(done.error());
  return exit_ok;
}

void add_watch_requests(CLI::App& app, Context& context) {
  auto args = std::make_shared<WatchArgs>();
  auto* command = app.add_subcommand(
      "watch-requests",
      "Follow the log and print one line per request state change (waiting, in_flight, "
      "backing_off, succeeded, failed), from the same state machine as the processor, until "
      "Ctrl-C");
  command->add_option("--start-after", args->start_after,
                      "Start after this event id, with the policy in force there");
  command->add_flag("--json", args->json, "Print JSON lines");
  command->callback([&context, args] {
    context.run = [&context, args]() -> int { return watch_requests(context, *args); };
  });
}

void add_verify(CLI::App& app, Context& context) {
  struct Args {
    bool all_finished = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* command = app.add_subcommand(
      "verify",
      "Replay the whole log through the state machine and check the broker's invariants: "
      "attempts numbered in order and within the policy, none after a success or before its "
      "backoff, one terminal event per request, every api-* event caused by its request. "
      "Prints each violation with its event ids, or ok with counts. Exit 0 only when clean "
      "(5 with violations).");
  command->add_flag("--all-finished", args->all_finished,
                    "A request without a terminal event is a violation too");
  command->add_flag("--json", args->json, "Print the report as JSON");
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      auto store = context.open_store(store::Access::read);
      if (!store) return report(store.error());
      auto result =
          broker::audit(**store, broker::AuditOptions{.require_finished = args->all_finished});
      if (!result) return report(result.error());
      const broker::AuditReport& r = *result;
      if (args->json) {
        std::string violations;
        for (const auto& v : r.violations) {
          if (!violations.empty()) violations += ',';
          violations += fmt::format(
              R"({{"event":{},"request":{},"text":{}{}}})", events::to_int(v.event),
              events::to_int(v.request), events::json_string(v.text),
              v.destination.empty() ? std::string()
                                    : ",\"destination\":" + events::json_string(v.destination));
        }
        fmt::print(
            R"({{"ok":{},"events":{},"requests":{},"succeeded":{},"failed":{},"open":{},"attempts":{},"responses":{},"failures":{},"timeouts":{},"breaker_transitions":{},"violations_total":{},"violations":[{}]}})"
            "\n",
            r.ok(), r.events, r.requests, r.succeeded, r.failed, r.open, r.attempts, r.responses,
            r.failures, r.timeouts, r.breaker_transitions, r.violations_total, violations);
      } else {
        for (const auto& v : r.violations) {
          if (v.request != events::EventId{}) {
            fmt::print("violation: event {} (request {}{}): {}\n", events::to_int(v.event),
                       events::to_int(v.request),
                       v.destination.empty() ? std::string() : ", " + v.destination, v.text);
          } else {
            fmt::print("violation: event {}: {}\n", events::to_int(v.event), v.text);
          }
        }
        if (r.violations_total > r.violations.size()) {
          fmt::print("... and {} more violations\n", r.violations_total - r.violations.size());
        }
        fmt::print(
            "{}: {} events, {} requests ({} succeeded, {} failed, {} open), {} attempts "
            "({} answered, {} failed, {} timed out){}\n",
            r.ok() ? "ok" : fmt::format("{} violations", r.violations_total), r.events, r.requests,
            r.succeeded, r.failed, r.open, r.attempts, r.responses, r.failures, r.timeouts,
            r.breaker_transitions == 0
                ? std::string()
                : fmt::format(", {} breaker transitions", r.breaker_transitions));
      }
      return r.ok() ? exit_ok : exit_violations;
    };
  });
}

}  // namespace

void add_observe_commands(CLI::App& app, Context& context) {
  add_watch_requests(app, context);
  add_verify(app, context);
}

}  // namespace api_broker::cli
