#pragma once
// The embedded default backend: one SQLite file in WAL mode, shared by any number of
// processes (the processor, `insert` commands, followers). Ids are SQLite rowids assigned
// inside the single write transaction SQLite allows at a time, so commit order is id order
// and a follower never skips an event. Every writer touches "<file>-notify" after each commit,
// and followers wait for that with inotify (NotifyFileWatch); they also re-read the log now
// and then, for writers that are not api-broker (the sqlite3 shell).

#include <memory>
#include <string>

#include "api_broker/limits.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

struct SqliteOptions {
  std::string path = "api-broker.db";
  // true: synchronous=FULL, a committed event survives power loss (DESIGN.md "Semantics").
  bool durable = true;
  // true: the file must already be an api-broker store; it is opened read-only (it may sit on
  // a read-only filesystem) and nothing is created.
  bool read_only = false;
  // How long a writer waits for another one's write lock (SQLite's own busy handler, which
  // sleeps 1, 2, 5, 10 ... 100 ms between tries).
  std::chrono::milliseconds busy_timeout = limits::sqlite_busy_wait_max;
};

// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr int sqlite_schema_version = 2;

// Opens and checks the schema: a usable store or an Error. A writer creates the file (mode
// 0600) where there is none; a file that is not an api-broker store (not SQLite, or SQLite
// with other tables) is refused, never written over.
Result<std::unique_ptr<EventStore>> open_sqlite_store(const SqliteOptions& options);

}  // namespace api_broker::store
