// The store commands: insert, list, resolve-external-uuid, watch.

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "api_broker/events/codec.hpp"
#include "context.hpp"
#include "options.hpp"

namespace api_broker::cli {
namespace {

using events::EventId;

// DATA `-`: standard input, at most the payload bound.
Result<std::string> read_standard_input() {
  std::string data;
  char buffer[65536];
  while (true) {
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, stdin);
    data.append(buffer, got);
    if (data.size() > limits::payload_bytes_max) {
      return fail(Errc::invalid_input,
                  fmt::format("standard input (DATA -) is larger than {} bytes",
                              limits::payload_bytes_max));
    }
    if (got < sizeof buffer) break;
  }
  if (std::ferror(stdin) != 0) {
    return fail(Errc::invalid_input, "cannot read standard input (DATA -)");
  }
  return data;
}

void add_insert(CLI::App& app, Context& context) {
  auto args = std::make_shared<InsertArgs>();
  auto* command = app.add_subcommand(
      "insert",
      "Append one event and print its id. CLASS is simple, request (DATA is the body; a JSON "
      "object with a \"request\" field is the request's payload, with the fields the request "
      "options below set), response, failure (prototype aliases: DATA is the text of attempt "
      "0), or any other class with DATA as its JSON payload (only the class's fields, each "
      "once). DATA - reads standard input (up to 4 MiB).");
  add_insert_options(*command, *args);
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      if (args->data == "-") {
        auto data = read_standard_input();
        if (!data) return report(data.error());
        args->data = std::move(*data);
      }
      auto new_event = to_new_event(*args);
      if (!new_event) return report(new_event.error());
      const EventId causation = new_event->causation_id;
      auto store = context.open_store(store::Access::write);
      if (!store) return report(store.error());
      if (causation != events::no_event) {
        if (auto cause = (*store)->get(causation); !cause) {
          if (cause.error().code == Errc::not_found) {
            return report(Error{Errc::not_found, fmt::format("causation event {} does not exist",
                                                             events::to_int(causation))});
          }
          if (cause.error().code != Errc::corrupt) return report(cause.error());
        }
      }
      auto id = (*store)->append(*new_event);
      if (!id) {
        if (id.error().code == Errc::duplicate) {
          return report(Error{
              Errc::duplicate,
              fmt::format("{} (stored as event {})", id.error().message, id.error().related_id)});
        }
        return report(id.error());
      }
      fmt::print("{}\n", events::to_int(*id));
      if (auto closed = (*store)->close(); !closed) return report(closed.error());
      return exit_ok;
    };
  });
}

void add_list(CLI::App& app, Context& context) {
  struct Args {
    std::string start_after;
    bool json = false, follow = false;
  };
  auto args = std::make_shared<Args>();
  auto* command = app.add_subcommand("list", "Print the events, one per line, in id order");
  command->add_option("--start-after", args->start_after, "Only events with a larger id");
  command->add_flag("--json", args->json, "Print JSON lines instead of readable lines");
  command->add_flag("--follow,-f", args->follow,
                    "Keep printing new events as they are appended (like tail -f) until Ctrl-C");
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      auto after = optional_event_id(args->start_after);
      if (!after) return report(after.error());
      auto store = context.open_store(store::Access::read);
      if (!store) return report(store.error());
      StopSignal stop;
      StopOnSignals on_signals(stop);
      StopWhenStdoutCloses on_closed_output(stop);
      bool output_closed = false;
      auto print = [&](const events::Envelope& envelope, bool flush) {
        output_closed = !print_line(
            args->json ? events::envelope_to_json(envelope) : events::envelope_to_line(envelope),
            flush);
        return !output_closed;
      };
      if (!args->follow) {
        // Reading up to the current end is finite: stop the follow there.
        auto last = (*store)->last_id();
        if (!last) return report(last.error());
        if (*last == events::no_event || events::to_int(*last) <= events::to_int(*after)) {
          return exit_ok;
        }
        const EventId end = *last;
        bool corrupt_seen = false;
        auto done = store::follow(
            **store, *after, stop,
            [&](const events::Envelope& envelope) {
              return print(envelope, false) && events::to_int(envelope.id) < events::to_int(end);
            },
            [&](const Error& error) {
              fmt::print(stderr, "api-broker: {}\n", error.message);
              corrupt_seen = true;
              return error.related_id < events::to_int(end);
            });
        std::fflush(stdout);
        if (!done) return report(done.error());
        return corrupt_seen && !output_closed ? exit_failure : exit_ok;
      }
      auto done = context.follow(
          std::move(*store), *after, stop,
          [&](const events::Envelope& envelope) { return print(envelope, true); },
          [&](const Error& error) {
            fmt::print(stderr, "api-broker: {}\n", error.message);
            return true;
          });
      if (!done) return report(done.error());
      return exit_ok;
    };
  });
}

void add_resolve(CLI::App& app, Context& context) {
  auto uuid_text = std::make_shared<std::string>();
  auto* command = app.add_subcommand("resolve-external-uuid",
                                     "Print the id of the event stored with an external UUID");
  command->add_option("UUID", *uuid_text, "The external UUID")->required();
  command->callback([&context, uuid_text] {
    context.run = [&context, uuid_text]() -> int {
      auto uuid = events::parse_external_uuid(*uuid_text);
      if (!uuid) return report(uuid.error());
      auto store = context.open_store(store::Access::read);
      if (!store) return report(store.error());
      auto id = (*store)->resolve(*uuid);
      if (!id) return report(id.error());
      fmt::print("{}\n", events::to_int(*id));
      return exit_ok;
    };
  });
}

void add_watch(CLI::App& app, Context& context) {
  auto start_after = std::make_shared<std::string>();
  auto* command = app.add_subcommand(
      "watch", "Print the id of every event appended from now on (notifications) until Ctrl-C");
  command->add_option("--start-after", *start_after,
                      "Start after this id instead of the current end of the log");
  command->callback([&context, start_after] {
    context.run = [&context, start_after]() -> int {
      auto after = optional_event_id(*start_after);
      if (!after) return report(after.error());
      auto store = context.open_store(store::Access::read);
      if (!store) return report(store.error());
      if (start_after->empty()) {
        auto last = (*store)->last_id();
        if (!last) return report(last.error());
        after = *last;
      }
      StopSignal stop;
      StopOnSignals on_signals(stop);
      StopWhenStdoutCloses on_closed_output(stop);
      auto print_id = [](std::uint64_t id) { return print_line(std::to_string(id), true); };
      auto done = context.follow(
          std::move(*store), *after, stop,
          [&](const events::Envelope& envelope) { return print_id(events::to_int(envelope.id)); },
          [&](const Error& error) { return print_id(error.related_id); });
      if (!done) return report(done.error());
      return exit_ok;
    };
  });
}

}  // namespace

void add_store_commands(CLI::App& app, Context& context) {
  add_insert(app, context);
  add_list(app, context);
  add_resolve(app, context);
  add_watch(app, context);
}

}  // namespace api_broker::cli
