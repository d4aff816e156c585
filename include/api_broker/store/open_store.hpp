#pragma once
// Opens the store selected by the command line / environment.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"
#include "api_broker/store/logging_store.hpp"

namespace api_broker::store {

// What a command does with the store. Only writers create one (a SQLite file where there is
// none); readers open an existing store read-only.
enum class Access { read, write };

// The driver for `driver` (empty: not given) and `url` (empty: none). A URL's scheme names
// its driver (postgresql:// and postgres:// postgresql, mongodb:// and mongodb+srv://
// mongodb); a driver given that contradicts it, a URL for sqlite, and a URL without a
// scheme (a libpq conninfo) without a driver are Errc::invalid_input. Neither: sqlite.
Result<std::string> resolve_driver(std::string_view driver, std::string_view url);

struct StoreOptions {
  std::string driver = "sqlite";          // sqlite | postgresql | mongodb | memory
  std::string db_path = "api-broker.db";  // sqlite file
  std::string db_host;      // postgresql: empty = PGHOST, localhost; mongodb: empty = localhost
  std::string db_port;      // postgresql: empty = PGPORT, else 5432; mongodb: 27017
  std::string db_user;      // postgresql: empty = PGUSER, else the OS user; mongodb: none
  std::string db_password;  // postgresql: empty = PGPASSWORD / ~/.pgpass; mongodb: none
  std::string db_name;      // postgresql: empty = PGDATABASE, else the user; mongodb: api_broker
  std::string url;          // full connection URL (postgresql://, mongodb://)
  bool durable = true;      // false: faster, may lose the last commits on power loss
  std::optional<LogLevel> log_level;  // wraps the store in the logging decorator
  Access access = Access::write;      // read: opens an existing store, read-only
};

Result<std::unique_ptr<EventStore>> open_store(const StoreOptions& options);

}  // namespace api_broker::store
