#pragma once
// The embedded default backend: one SQLite file in WAL mode, shared by any number of
// processes (the processor, `insert` commands, followers). Ids are SQLite rowids assigned
// inside the single write transaction SQLite allows at a time, so commit order is id order
// and a follower never skips an event. Followers are woken through inotify on the -wal file.

#include <memory>
#include <string>

#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

struct SqliteOptions {
  std::string path = "api-broker.db";
  // true: synchronous=FULL, a committed event survives power loss (DESIGN.md "Semantics").
  bool durable = true;
  std::chrono::milliseconds busy_timeout{10000};
};

// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr int sqlite_schema_version = 2;

// Opens (creating if needed, mode 0600) and checks the schema: a usable store or an Error.
Result<std::unique_ptr<EventStore>> open_sqlite_store(const SqliteOptions& options);

}  // namespace api_broker::store
