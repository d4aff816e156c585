#pragma once
// The ceiling every store figure is compared with: plain SQLite, same table shape, same
// durability settings, no api-broker code in the way.

#include <sqlite3.h>

#include <string>

#include "api_broker/time.hpp"
#include "stats.hpp"

namespace api_broker::bench {

// Plain SQLite with the same table shape and settings: the ceiling for the store.
inline double raw_inserts_per_second(const std::string& path, int events, int per_transaction) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE events (id INTEGER "
               "PRIMARY KEY AUTOINCREMENT, created_us INTEGER NOT NULL, causation_id INTEGER NOT "
               "NULL DEFAULT 0, external_uuid TEXT UNIQUE, class TEXT NOT NULL, payload TEXT NOT "
               "NULL);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO events (created_us, causation_id, external_uuid, class, payload) "
                     "VALUES (?, 0, NULL, 'request', ?)",
                     -1, &insert, nullptr);
  const std::string payload = R"({"request":"benchmark payload"})";
  bench::Stopwatch watch;
  for (int i = 0; i < events; i += per_transaction) {
    if (per_transaction > 1) sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int j = 0; j < per_transaction; ++j) {
      sqlite3_bind_int64(insert, 1, utc_now().time_since_epoch().count());
      sqlite3_bind_text(insert, 2, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    if (per_transaction > 1) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = events / watch.seconds();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return rate;
}

}  // namespace api_broker::bench
