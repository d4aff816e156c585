#include "api_broker/store/open_store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <utility>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/logging_store.hpp"
#include "api_broker/store/memory_store.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "api_broker/store/postgresql_store.hpp"
#include "api_broker/store/sqlite_store.hpp"

namespace api_broker::store {

Result<std::string> resolve_driver(std::string_view driver, std::string_view url) {
  if (url.empty()) return std::string(driver.empty() ? "sqlite" : driver);
  std::string_view named;
  for (const auto& [scheme, name] :
       {std::pair{"postgresql://", "postgresql"}, std::pair{"postgres://", "postgresql"},
        std::pair{"mongodb://", "mongodb"}, std::pair{"mongodb+srv://", "mongodb"}}) {
    if (url.starts_with(scheme)) named = name;
  }
  if (driver.empty()) {
    if (!named.empty()) return std::string(named);
    return fail(Errc::invalid_input,
                "--eventstore-url has no postgresql:// or mongodb:// scheme: say which store it "
                "is with --eventstore-driver");
  }
  if (driver == "sqlite") {
    return fail(Errc::invalid_input,
                "--eventstore-url is for postgresql and mongodb; sqlite takes "
                "--eventstore-db-path");
  }
  if (!named.empty() && named != driver) {
    return fail(Errc::invalid_input,
                fmt::format("--eventstore-url is a {} URL, but --eventstore-driver is '{}'", named,
                            events::printable(driver)));
  }
  return std::string(driver);
}

namespace {

// A port given on its own: 1 to 65535 in decimal digits.
Result<void> check_port(std::string_view port) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return fail(Errc::invalid_input,
                fmt::format("--eventstore-db-port must be a port number from 1 to 65535, not '{}'",
                            events::printable(port)));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<EventStore>> open_store(const StoreOptions& options) {
  Result<std::unique_ptr<EventStore>> store = fail(Errc::invalid_input, "no driver");
  if (!options.db_port.empty() && (options.driver == "postgresql" || options.driver == "mongodb")) {
    if (auto port = check_port(options.db_port); !port) return fail(std::move(port).error());
  }
  if (options.driver == "sqlite") {
    store = open_sqlite_store(SqliteOptions{.path = options.db_path,
                                            .durable = options.durable,
                                            .read_only = options.access == Access::read});
  } else if (options.driver == "memory") {
    store = std::unique_ptr<EventStore>(std::make_unique<MemoryStore>());
  } else if (options.driver == "postgresql") {
    // A URL says where; without one, the host: --eventstore-db-host, else PGHOST, else
    // localhost (PGPORT, PGUSER, PGPASSWORD, PGDATABASE apply as libpq reads them).
    std::string host;
    if (options.url.empty()) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written once running
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
