#include "api_broker/store/open_store.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "api_broker/store/logging_store.hpp"
#include "api_broker/store/memory_store.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "api_broker/store/postgres_store.hpp"
#include "api_broker/store/sqlite_store.hpp"

namespace api_broker::store {

Result<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  if (text == "crit" || text == "critical") return LogLevel::crit;
  if (text == "off") return LogLevel::off;
  return fail(Errc::invalid_input,
              fmt::format("unknown log level '{}' (use debug, info, warn, error or crit)", text));
}

Result<std::unique_ptr<EventStore>> open_store(const StoreOptions& options) {
  Result<std::unique_ptr<EventStore>> store = fail(Errc::invalid_input, "no driver");
  if (options.driver == "sqlite") {
    store = open_sqlite_store(SqliteOptions{.path = options.db_path, .durable = options.durable});
  } else if (options.driver == "memory") {
    store = std::unique_ptr<EventStore>(std::make_unique<MemoryStore>());
  } else if (options.driver == "postgresql") {
    // A URL says where; without one, the host: --eventstore-db-host, else PGHOST, else
    // localhost (PGPORT, PGUSER, PGPASSWORD, PGDATABASE apply as libpq reads them).
    std::string host;
    if (options.url.empty()) {
      const char* pghost = std::getenv("PGHOST");
      host = !options.db_host.empty()
                 ? options.db_host
                 : (pghost != nullptr && *pghost != '\0' ? pghost : "localhost");
    }
    store = open_postgres_store(PostgresOptions{.url = options.url,
                                                .host = host,
                                                .port = options.db_port,
                                                .user = options.db_user,
                                                .password = options.db_password,
                                                .database = options.db_name,
                                                .durable = options.durable});
  } else if (options.driver == "mongodb") {
    // A URL says where; without one, --eventstore-db-host (else localhost) and -port (27017).
    store = open_mongo_store(MongoOptions{.url = options.url,
                                          .host = options.url.empty() ? options.db_host : "",
                                          .port = options.url.empty() ? options.db_port : "",
                                          .user = options.db_user,
                                          .password = options.db_password,
                                          .database = options.db_name,
                                          .durable = options.durable});
  } else {
    return fail(Errc::invalid_input,
                fmt::format("unknown event store driver '{}' (use sqlite, postgresql or mongodb)",
                            options.driver));
  }
  if (!store) return store;
  if (options.log_level) return make_logging_store(std::move(*store), *options.log_level);
  return store;
}

}  // namespace api_broker::store
