#pragma once
// Opens the store selected by the command line / environment.

#include <memory>
#include <string>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

enum class LogLevel { debug, info, warn, error, crit, off };
Result<LogLevel> parse_log_level(std::string_view text);

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
};

Result<std::unique_ptr<EventStore>> open_store(const StoreOptions& options);

}  // namespace api_broker::store
