// The target commands: target set, target list, target remove. A target is stored as a
// `target` event stating its whole definition; the definitions in force are the log's target
// events folded in order (broker::Targets), as the processor folds them.

#include <fmt/format.h>

#include <string>

#include "api_broker/broker/resume_point.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/events/codec.hpp"
#include "context.hpp"
#include "options.hpp"

namespace api_broker::cli {
namespace {

// The targets in force at the end of the log, folded as the processor folds them.
Result<std::shared_ptr<const broker::Targets>> read_targets(store::EventStore& store) {
  auto last = store.last_id();
  if (!last) return fail(std::move(last).error());
  auto at_end = broker::fold_in_force(store, broker::Checkpoint{}, *last);
  if (!at_end) return fail(std::move(at_end).error());
  if (!at_end->targets) return std::make_shared<const broker::Targets>();
  return at_end->targets;
}

// Appends `target` and prints its id.
int append_target(store::EventStore& store, events::Target target) {
  auto id = store.append(events::NewEvent{.event = std::move(target)});
  if (!id) return report(id.error());
  fmt::print("{}\n", events::to_int(*id));
  if (auto closed = store.close(); !closed) return report(closed.error());
  return exit_ok;
}

void add_set(CLI::App& group, Context& context) {
  auto args = std::make_shared<TargetArgs>();
  auto* command = group.add_subcommand(
      "set",
      "Define or change a target (a `target` event): requests with --target NAME go to its URL "
      "with its headers. On an existing target, the flags given change its definition and the "
      "others keep theirs. Requests keep the definition in force when they arrived. Prints the "
      "event id.");
  add_target_set_options(*command, *args);
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      // The flags are checked before the store is opened (a placeholder stands for a URL not
      // given), and the result again on the definition in force.
      if (auto given = to_target_event(*args, events::Target{.url = "http://placeholder.invalid"});
          !given) {
        return report(given.error());
      }
      auto store = context.open_store(store::Access::write);
      if (!store) return report(store.error());
      auto targets = read_targets(**store);
      if (!targets) return report(targets.error());
      const broker::TargetDefinition* current = (*targets)->find(args->name);
      auto target = to_target_event(*args, current ? current->event : events::Target{});
      if (!target) return report(target.error());
      return append_target(**store, std::move(*target));
    };
  });
}

void add_remove(CLI::App& group, Context& context) {
  auto name = std::make_shared<std::string>();
  auto* command = group.add_subcommand(
      "remove", "Remove a target: requests that arrive after it and name it fail, uncalled");
  command->add_option("NAME", *name, "Target name")->required();
  command->callback([&context, name] {
    context.run = [&context, name]() -> int {
      auto store = context.open_store(store::Access::write);
      if (!store) return report(store.error());
      auto targets = read_targets(**store);
      if (!targets) return report(targets.error());
      if (auto found = broker::find_target(**targets, *name); !found) {
        return report(found.error());
      }
      return append_target(**store, events::Target{.name = *name, .removed = true});
    };
  });
}

std::string limits_text(const events::Target& t) {
  std::string text;
  auto add = [&](const std::string& item) { text += text.empty() ? item : " " + item; };
  if (t.redirects_max > 0) add(fmt::format("redirects-max={}", t.redirects_max));
  if (!t.retry_on.empty()) add("retry-on=" + t.retry_on);
  if (t.calls_max > 0) add(fmt::format("calls-max={}", t.calls_max));
  if (t.rate > 0) add(fmt::format("rate={}", t.rate));
  if (t.burst > 0) add(fmt::format("burst={}", t.burst));
  if (t.breaker_failures > 0) add(fmt::format("breaker-failures={}", t.breaker_failures));
  if (t.breaker_ratio > 0) add(fmt::format("breaker-ratio={}", t.breaker_ratio));
  if (t.breaker_window > 0) add(fmt::format("breaker-window={}", t.breaker_window));
  if (t.breaker_pause > 0) add(fmt::format("breaker-pause={}", t.breaker_pause));
  if (!t.on_timeout.empty()) add("on-timeout=" + t.on_timeout);
  return text.empty() ? "-" : text;
}

void add_list(CLI::App& group, Context& context) {
  auto json = std::make_shared<bool>(false);
  auto* command = group.add_subcommand(
      "list",
      "Print the targets in force: name, URL, headers (secret references as written, never "
      "their values) and limits; removed targets are left out");
  command->add_flag("--json", *json, "One JSON line per target (its event's payload)");
  command->callback([&context, json] {
    context.run = [&context, json]() -> int {
      auto store = context.open_store(store::Access::read);
      if (!store) return report(store.error());
      auto targets = read_targets(**store);
      if (!targets) return report(targets.error());
      if (!*json)
        print_line(fmt::format("{:<20} {:<40} {:<30} {}", "NAME", "URL", "HEADERS", "LIMITS"),
                   false);
      for (const auto& [name, definition] : (*targets)->all()) {
        const events::Target& t = definition.event;
        if (t.removed) continue;
        if (*json) {
          if (!print_line(events::encode_payload(t), false)) return exit_ok;
          continue;
        }
        std::string headers;
        for (const auto& h : t.headers) {
          headers += fmt::format("{}{}: {}", headers.empty() ? "" : "; ", h.name, h.value);
        }
        if (!print_line(fmt::format("{:<20} {:<40} {:<30} {}", name, t.url,
                                    headers.empty() ? "-" : headers, limits_text(t)),
                        false)) {
          return exit_ok;
        }
      }
      return exit_ok;
    };
  });
}

}  // namespace

void add_target_commands(CLI::App& app, Context& context) {
  auto* group = app.add_subcommand("target", "Named targets: set, list, remove");
  group->require_subcommand(1);
  add_set(*group, context);
  add_list(*group, context);
  add_remove(*group, context);
}

}  // namespace api_broker::cli
