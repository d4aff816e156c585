#include "context.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace api_broker::cli {

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, store::LogLevel level) {
  auto log = spdlog::get(name);
  if (!log) log = spdlog::stderr_color_mt(name);
  // LogLevel debug..off map onto spdlog's debug..off, one above trace.
  log->set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(level) + 1));
  return log;
}

int report(const Error& error) {
  fmt::print(stderr, "api-broker: {}\n", error.message);
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

Result<std::unique_ptr<store::EventStore>> Context::open_store() const {
  store::StoreOptions options = store;
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
  app.add_option("--eventstore-driver", context.store.driver,
                 "Event store backend: sqlite (default), postgresql or mongodb")
      ->envname("EVENTSTORE_DRIVER")
      ->capture_default_str();
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
                 "Full connection URL (postgresql://..., mongodb://...)")
      ->envname("EVENTSTORE_URL");
  app.add_option("--eventstore-loglevel", context.log_level,
                 "Log every store call at this level and above: debug|info|warn|error|crit")
      ->envname("EVENTSTORE_LOGLEVEL");
  app.add_option("--eventstore-sync", context.sync,
                 "full: every commit survives power loss (default); normal: faster, the last "
                 "commits may be lost on power loss (never corrupted)")
      ->envname("EVENTSTORE_SYNC")
      ->capture_default_str();
}

}  // namespace api_broker::cli
