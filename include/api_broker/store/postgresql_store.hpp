#pragma once
// The shared backend: one PostgreSQL database, written and followed by any number of
// processes on any number of machines. Appends take a transaction-scoped advisory lock
// before they assign ids, so transactions commit in id order and a follower reading
// `id > last_seen` never skips one. Followers are woken by LISTEN/NOTIFY (a trigger on the
// events table). The store creates and migrates its own schema (docs/POSTGRESQL.md).

#include <chrono>
#include <memory>
#include <string>

#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

// Where and how to connect. Anything left empty comes from `url`, then from the standard
// libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ~/.pgpass), then from
// libpq's defaults. A non-empty field overrides the same setting in `url`.
struct PostgresOptions {
  // A URI (postgresql://user@host:5432/db?sslmode=...) or a key=value conninfo string.
  std::string url;
  std::string host;
  std::string port;
  std::string user;
  std::string password;
  std::string database;
  // Shown in pg_stat_activity; lets an operator (or a test) find this connection.
  std::string application_name = "api-broker";
  // true: synchronous_commit on, a committed event survives power loss (DESIGN.md
  // "Semantics"); false: synchronous_commit off for this connection (faster; a crash of the
  // server may lose the last commits, never corrupt or reorder them).
  bool durable = true;
  // Bounds each connection attempt (libpq's connect_timeout; a URL may set its own).
  std::chrono::seconds connect_timeout{10};
};

// The schema version this build writes and reads (table schema_version).
inline constexpr int postgres_schema_version = 2;

// Connects and creates or checks the schema: a usable store or an Error, never half-open.
// Errc::unavailable (one line, passwords redacted) when the server cannot be reached or
// refuses the login; Errc::unsupported for a schema newer than this build or a database
// whose `events` table api-broker did not create. After a connection is lost, the failing
// call returns Errc::unavailable and the next call reconnects.
Result<std::unique_ptr<EventStore>> open_postgres_store(const PostgresOptions& options);

}  // namespace api_broker::store
