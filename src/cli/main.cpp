// api-broker: the command line. Each subcommand lives in its own file and registers itself
// on the app; main() parses, runs the chosen one and turns errors into one line + exit code.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <exception>
#include <string>

#include "api_broker/store/mongo_store.hpp"
#include "context.hpp"

namespace {

// Thousands of calls in flight need thousands of sockets: use the hard limit, not the soft.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace api_broker::cli;
  api_broker::store::start_without_driver_shared_memory(argv);
  raise_open_files_limit();
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
  add_demo_command(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    fmt::print(stderr, "api-broker: {} (run with --help for more information)\n", message);
    return exit_usage;
  }
  if (!context.run) return exit_usage;
  try {
    return context.run();
  } catch (const std::exception& e) {  // a dependency threw: still one line, never an abort
    fmt::print(stderr, "api-broker: {}\n", e.what());
    return exit_failure;
  }
}
