#include "context.hpp"

#include "config_file.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "api_broker/store/store_wait.hpp"

namespace api_broker::cli {

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, store::LogLevel level) {
  auto log = spdlog::get(name);
  if (!log) log = spdlog::stderr_color_mt(name);
  // LogLevel debug..off map onto spdlog's debug..off, one above trace.
  log->set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(level) + 1));
  return log;
}

bool print_line(std::string_view line, bool flush) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  if (flush) std::fflush(stdout);
  return std::ferror(stdout) == 0;
}

StopWhenStdoutCloses::StopWhenStdoutCloses(StopSignal& stop)
    : thread_([this, &stop] {
        // With no events asked for, poll reports only POLLERR / POLLHUP: for a pipe, that its
        // reader closed it. A terminal or a file never reports them.
        pollfd entries[2] = {{1, 0, 0}, {done_.fd(), POLLIN, 0}};
        while (!done_.stop_requested()) {
          const int rc = ::poll(entries, 2, -1);
          if (rc < 0 && errno == EINTR) continue;
          if (rc < 0 || (entries[1].revents & POLLIN) != 0) return;
          if ((entries[0].revents & (POLLERR | POLLHUP)) != 0) {
            stop.request_stop();
            return;
          }
          if ((entries[0].revents & POLLNVAL) != 0) return;  // no standard output at all
        }
      }) {}

StopWhenStdoutCloses::~StopWhenStdoutCloses() {
  done_.request_stop();
  thread_.join();
}

namespace {

// Set by add_global_options: names where the config file set an option an error names.
std::function<std::string(std::string)> config_origin;

}  // namespace

int report(const Error& error) {
  fmt::print(stderr, "api-broker: {}\n",
             config_origin ? config_origin(error.message) : error.message);
  switch (error.code) {
    case Errc::duplicate:
      return exit_duplicate;
    case Errc::not_found:
      return exit_not_found;
    case Errc::invalid_input:
      return exit_usage;
    default:
      return exit_failure;
  }
}

Result<void> Context::follow(std::unique_ptr<store::EventStore> first, events::EventId after,
                             const StopSignal& stop,
                             const std::function<bool(const events::Envelope&)>& sink,
                             const std::function<bool(const Error&)>& on_corrupt) const {
  auto opened = std::make_shared<std::unique_ptr<store::EventStore>>(std::move(first));
  auto opener = [this, opened]() -> Result<std::unique_ptr<store::EventStore>> {
    if (*opened) return std::move(*opened);  // the store the command opened, handed over once
    return open_store(store::Access::read);
  };
  return store::follow_reconnecting(opener, after, stop, sink, on_corrupt,
                                    [](const std::string& line) {
                                      fmt::print(stderr, "api-broker: {}\n", line);
                                      std::fflush(stderr);
                                    });
}

Result<std::unique_ptr<store::EventStore>> Context::open_store(store::Access access) const {
  store::StoreOptions options = store;
  options.access = access;
  auto resolved = store::resolve_driver(driver, options.url);
  if (!resolved) return fail(std::move(resolved).error());
  options.driver = std::move(*resolved);
  if (!log_level.empty()) {
    auto level = store::parse_log_level(log_level);
    if (!level) return fail(std::move(level).error());
    options.log_level = *level;
  }
  if (sync != "full" && sync != "normal") {
    return fail(Errc::invalid_input,
                fmt::format("--eventstore-sync must be full or normal, not '{}'", sync));
  }
  options.durable = sync == "full";
  return store::open_store(options);
}

void add_global_options(CLI::App& app, Context& context) {
  app.add_option("--eventstore-driver", context.driver,
                 "Event store backend: sqlite, postgresql or mongodb; default: the scheme of "
                 "--eventstore-url (postgresql://, postgres://, mongodb://, mongodb+srv://), "
                 "else sqlite")
      ->envname("EVENTSTORE_DRIVER");
  app.add_option("--eventstore-db-path", context.store.db_path, "SQLite database file")
      ->envname("EVENTSTORE_DB_PATH")
      ->capture_default_str();
  app.add_option(
         "--eventstore-db-host", context.store.db_host,
         "Database host (postgresql, mongodb) without a URL; default: $PGHOST (postgresql), "
         "else localhost")
      ->envname("EVENTSTORE_DB_HOST");
  app.add_option("--eventstore-db-port", context.store.db_port,
                 "Database port (postgresql, mongodb); default: $PGPORT, else 5432; mongodb: 27017")
      ->envname("EVENTSTORE_DB_PORT");
  app.add_option("--eventstore-db-user", context.store.db_user,
                 "Database user (postgresql, mongodb); default: $PGUSER (postgresql)")
      ->envname("EVENTSTORE_DB_USER");
  app.add_option("--eventstore-db-password", context.store.db_password,
                 "Database password (postgresql, mongodb); prefer the environment variable (or "
                 "$PGPASSWORD, ~/.pgpass), which other users of this machine cannot see in the "
                 "process list")
      ->envname("EVENTSTORE_DB_PASSWORD");
  app.add_option(
         "--eventstore-db-name", context.store.db_name,
         "Database name (postgresql, mongodb); default: $PGDATABASE (postgresql), api_broker "
         "(mongodb)")
      ->envname("EVENTSTORE_DB_NAME");
  app.add_option("--eventstore-url", context.store.url,
                 "Full connection URL (postgresql://..., mongodb://...; its scheme names the "
                 "driver), or a libpq conninfo with --eventstore-driver postgresql")
      ->envname("EVENTSTORE_URL");
  app.add_option(
         "--eventstore-loglevel", context.log_level,
         fmt::format("Log every store call at this level and above: {}", store::log_level_names))
      ->envname("EVENTSTORE_LOGLEVEL");
  app.add_option("--eventstore-sync", context.sync,
                 "full: every commit survives power loss (default); normal: faster, the last "
                 "commits may be lost on power loss (never corrupted)")
      ->envname("EVENTSTORE_SYNC")
      ->capture_default_str();
  app.add_option("--log-format", context.log_format,
                 "Log lines as text, or as json: one object a line (time, level, logger, "
                 "message, and at debug the event_id, class and request_id of each event read)")
      ->envname("API_BROKER_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_config_option(app);
  config_origin = [&app](std::string message) {
    return with_run_config_origin(app, std::move(message));
  };
}

}  // namespace api_broker::cli
