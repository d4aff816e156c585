// api-broker: the command line. Each subcommand lives in its own file and registers itself
// on the app; main() parses, runs the chosen one and turns errors into one line + exit code.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <string>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "config_file.hpp"
#include "context.hpp"
#include "log_format.hpp"
#include "version.hpp"

namespace {

// Thousands of calls in flight need thousands of sockets: use the hard limit, not the soft.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// `help [COMMAND]`: the help of the program or of one command, exit 0.
void add_help_command(CLI::App& app, api_broker::cli::Context& context) {
  auto name = std::make_shared<std::string>();
  auto* command = app.add_subcommand("help", "Print this help, or the help of COMMAND");
  command->add_option("COMMAND", *name, "A command");
  command->callback([&app, &context, name] {
    context.run = [&app, name]() -> int {
      // App::help() would print the help of the command parsed: `help` itself.
      const auto formatter = app.get_formatter();
      if (name->empty()) {
        fmt::print("{}", formatter->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal));
        return api_broker::cli::exit_ok;
      }
      for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_name() == *name) {
          fmt::print("{}", formatter->make_help(sub, sub->get_name(), CLI::AppFormatMode::Sub));
          return api_broker::cli::exit_ok;
        }
      }
      fmt::print(stderr, "api-broker: unknown command '{}' (run with --help for the commands)\n",
                 api_broker::events::printable(*name));
      return api_broker::cli::exit_usage;
    };
  });
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): what throws past the handlers is a bug: abort
int main(int argc, char** argv) {
  using namespace api_broker::cli;
  api_broker::store::start_without_driver_shared_memory(argv);
  raise_open_files_limit();
  // A closed standard output (`list --follow | head -2`) is an EPIPE on write, which the
  // commands handle by ending quietly, not a signal that kills the process.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "api-broker: reliable calls to unreliable HTTP APIs, every step recorded as an event.\n"
      "Record a `request` event; the processor calls the API under the configured retry policy\n"
      "and appends every attempt, answer, failure and timeout, then one terminal outcome."};
  app.name("api-broker");
  app.require_subcommand(1);
  app.fallthrough();
  Context context;
  add_global_options(app, context);
  add_store_commands(app, context);
  add_broker_commands(app, context);
  add_observe_commands(app, context);
  add_target_commands(app, context);
  add_request_commands(app, context);
  add_demo_command(app, context);
  add_serve_command(app, context);
  add_help_command(app, context);
  add_version_command(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A word that names no command: say so, not that a command is missing.
    const auto left = app.remaining();
    if (app.get_subcommands().empty() && !left.empty() && !left.front().starts_with("-")) {
      fmt::print(stderr, "api-broker: unknown command '{}' (run with --help for the commands)\n",
                 api_broker::events::printable(left.front()));
      return exit_usage;
    }
    // A value from the config file: say where it is.
    std::string message = with_config_origin(app, e.what());
    std::replace(message.begin(), message.end(), '\n', ' ');
    fmt::print(stderr, "api-broker: {} (run with --help for more information)\n", message);
    return exit_usage;
  }
  if (!context.run) return exit_usage;
  if (auto format = use_log_format(context.log_format); !format) return report(format.error());
  try {
    return context.run();
  } catch (const std::exception& e) {  // a dependency threw: still one line, never an abort
    fmt::print(stderr, "api-broker: {}\n", e.what());
    return exit_failure;
  }
}
