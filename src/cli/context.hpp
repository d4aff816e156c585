#pragma once
// What every subcommand shares: the global store options, and how a Result becomes a
// one-line message and an exit code.

#include <spdlog/logger.h>
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"
#include "api_broker/store/open_store.hpp"

namespace api_broker::cli {

// Exit codes, documented in the README.
enum ExitCode : int {
  exit_ok = 0,
  exit_failure = 1,     // the store or the network failed, or data is corrupt
  exit_usage = 2,       // bad arguments or input
  exit_duplicate = 3,   // the external UUID is already stored
  exit_not_found = 4,   // no such event or UUID
  exit_violations = 5,  // verify found invariant violations
  exit_conflict = 6,    // cancel / retry: the request's state does not allow it
};

struct Context {
  store::StoreOptions store;
  std::string driver;     // --eventstore-driver; empty: from the URL's scheme, else sqlite
  std::string log_level;  // empty: no logging decorator
  std::string sync = "full";
  std::string log_format = "text";  // --log-format: text or json (log_format.hpp)
  // Set by the chosen subcommand's callback; main() runs it after parsing.
  std::function<int()> run;

  // Opens the configured store for `access` (read: it must exist, and is opened read-only).
  [[nodiscard]] Result<std::unique_ptr<store::EventStore>> open_store(store::Access access) const;

  // Follows the log after `after` as store::follow() does, on `first` (already open), and
  // after a store restart on the store opened anew: the followers (list --follow, watch,
  // watch-requests) say so on stderr, wait, and go on after the last event they printed.
  Result<void> follow(std::unique_ptr<store::EventStore> first, events::EventId after,
                      const StopSignal& stop,
                      const std::function<bool(const events::Envelope&)>& sink,
                      const std::function<bool(const Error&)>& on_corrupt) const;
};

// Prints "api-broker: <message>" to stderr and returns the exit code for the error.
int report(const Error& error);

// A logger that writes to stderr at `level` and above.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, store::LogLevel level);

// Writes `line` and a newline to standard output (flushed when `flush`). False once standard
// output is closed (EPIPE: its reader went away, as in `list --follow | head -2`): the
// command then ends quietly with exit 0.
bool print_line(std::string_view line, bool flush);

// While alive, raises `stop` when standard output is a pipe whose reader went away, so that
// a follower waiting for the next event ends without having to write first.
class StopWhenStdoutCloses {
 public:
  explicit StopWhenStdoutCloses(StopSignal& stop);
  ~StopWhenStdoutCloses();
  StopWhenStdoutCloses(const StopWhenStdoutCloses&) = delete;
  StopWhenStdoutCloses& operator=(const StopWhenStdoutCloses&) = delete;

 private:
  StopSignal done_;  // raised by the destructor to end the thread
  std::thread thread_;
};

void add_global_options(CLI::App& app, Context& context);
void add_store_commands(CLI::App& app, Context& context);
void add_broker_commands(CLI::App& app, Context& context);
void add_observe_commands(CLI::App& app, Context& context);
void add_target_commands(CLI::App& app, Context& context);
void add_demo_command(CLI::App& app, Context& context);
void add_request_commands(CLI::App& app, Context& context);
void add_serve_command(CLI::App& app, Context& context);

}  // namespace api_broker::cli
