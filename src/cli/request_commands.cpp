// The commands that act on one request: cancel and retry (issue 12). Each folds the request's
// events through the state machine, refuses a request in the wrong state (exit_conflict), and
// appends the event caused by the request; the processor gives it its meaning.

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <string>

#include "api_broker/broker/call_builder.hpp"
#include "api_broker/broker/resume_point.hpp"
#include "api_broker/core/request_machine.hpp"
#include "api_broker/events/codec.hpp"
#include "context.hpp"

namespace api_broker::cli {
namespace {

using events::EventId;

struct RequestArgs {
  std::string request;  // ID or UUID
  std::string reason;
};

// The id of the request named by ID or external UUID.
Result<EventId> find_request(store::EventStore& store, const std::string& text) {
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error == std::errc{} && end == text.data() + text.size() && id > 0) return EventId{id};
  auto uuid = events::parse_external_uuid(text);
  if (!uuid) {
    return fail(Errc::invalid_input,
                fmt::format("'{}' is neither an event id nor an external UUID",
                            events::printable(text, limits::quoted_input_chars_max)));
  }
  return store.resolve(*uuid);
}

// The request's state: its events folded, from the request to the log's end, under the
// policy and target rule in force at the request (and, for each round, at its request-retried,
// as the processor runs it). Reads the log after the request once.
Result<core::RequestState> fold_request(store::EventStore& store, EventId id) {
  auto request = store.get(id);
  if (!request) return fail(std::move(request).error());
  const auto* event = std::get_if<events::Request>(&request->event);
  if (event == nullptr) {
    return fail(Errc::not_found, fmt::format("event {} is a {}, not a request", events::to_int(id),
                                             events::class_name(request->event)));
  }
  auto in_force = broker::load_resume_point(store, "processor", EventId{events::to_int(id) - 1});
  if (!in_force) return fail(std::move(in_force).error());
  core::Policy policy = in_force->policy;
  auto targets = in_force->targets ? in_force->targets : std::make_shared<const broker::Targets>();
  const auto rule_now = [&] {
    core::RetryRule rule;
    if (auto target = broker::find_target(*targets, event->target);
        !event->target.empty() && target) {
      rule = (*target)->retry_on;
    }
    return rule;
  };
  core::RequestState state = core::start(*request, policy, rule_now());
  EventId position = id;
  while (true) {
    auto batch = store.read_after(position, limits::read_batch_max);
    if (!batch) {
      if (batch.error().code != Errc::corrupt || batch.error().related_id == 0) {
        return fail(std::move(batch).error());
      }
      position = EventId{batch.error().related_id};
      continue;
    }
    if (batch->empty()) break;
    for (const events::Envelope& envelope : *batch) {
      if (const auto* c = std::get_if<events::Configuration>(&envelope.event)) {
        if (auto next = core::apply(policy, *c)) policy = *next;
      } else if (const auto* t = std::get_if<events::Target>(&envelope.event)) {
        if (auto next = targets->with(*t)) targets = std::move(*next);
      } else if (envelope.causation_id == id) {
        const std::uint32_t round = state.round;
        state = core::evolve(std::move(state), envelope);
        if (state.round != round) {  // a round started: under what is in force now
          state.policy = policy;
          state.retry_on = rule_now();
        }
      }
    }
    position = batch->back().id;
  }
  return state;
}

void add_request_command(CLI::App& app, Context& context, const char* name, const char* description,
                         bool retry) {
  auto args = std::make_shared<RequestArgs>();
  auto* command = app.add_subcommand(name, description);
  command->add_option("REQUEST", args->request, "The request's event id or external UUID")
      ->required();
  command
      ->add_option("--reason", args->reason,
                   retry ? "Why, recorded in the request-retried event"
                         : "Why, recorded in the event and in the request-failed reason")
      ->check(CLI::Validator(
          [](std::string& text) {
            return text.size() <= limits::failure_text_bytes_max
                       ? std::string()
                       : fmt::format("at most {} bytes", limits::failure_text_bytes_max);
          },
          "TEXT"));
  command->callback([&context, args, retry] {
    context.run = [&context, args, retry]() -> int {
      auto store = context.open_store(store::Access::write);
      if (!store) return report(store.error());
      auto id = find_request(**store, args->request);
      if (!id) return report(id.error());
      auto state = fold_request(**store, *id);
      if (!state) return report(state.error());
      const auto refused = retry ? core::cannot_retry(*state) : core::cannot_cancel(*state);
      if (refused) {
        fmt::print(stderr, "api-broker: cannot {}: {}\n", retry ? "retry" : "cancel", *refused);
        return exit_conflict;
      }
      events::NewEvent event{.event = events::RequestCancelled{.reason = args->reason},
                             .causation_id = *id};
      if (retry) {
        const events::RequestRetried retried = core::retried_event(*state, args->reason);
        event.event = retried;
        event.external_uuid = events::retry_uuid(events::to_int(*id), retried.round);
      }
      auto appended = (*store)->append(event);
      if (!appended) {
        if (appended.error().code == Errc::duplicate) {  // another retry of this failure
          fmt::print(stderr,
                     "api-broker: cannot retry: request {} was retried meanwhile (event {})\n",
                     events::to_int(*id), appended.error().related_id);
          return exit_conflict;
        }
        return report(appended.error());
      }
      fmt::print("{}\n", events::to_int(*appended));
      if (auto closed = (*store)->close(); !closed) return report(closed.error());
      return exit_ok;
    };
  });
}

}  // namespace

void add_request_commands(CLI::App& app, Context& context) {
  add_request_command(app, context, "cancel",
                      "Cancel an unfinished request: append request-cancelled (caused by it) and "
                      "print its id. The processor starts no further attempt and appends "
                      "request-failed \"cancelled: REASON\". A finished request: exit 6.",
                      false);
  add_request_command(app, context, "retry",
                      "Give a failed request a new round of attempts: append request-retried "
                      "(caused by it) and print its id. The round has the retries of the policy "
                      "in force now, and its deadline counts from now. An unfinished or "
                      "succeeded request: exit 6.",
                      true);
}

}  // namespace api_broker::cli
