#pragma once
// The MongoDB backend, on the official C driver (libmongoc). One database, written and
// followed by any number of processes on any number of machines. It needs MongoDB 4.2 or
// newer (aggregation-pipeline updates and $$NOW), a standalone server or a replica set, and
// creates what it needs itself (docs/MONGODB.md):
//   events         {_id: id, created, created_us, causation_id, external_uuid, class,
//                   payload: a BSON document, lock_epoch}; unique partial index on external_uuid
//   api_broker     {_id: "schema", version}, {_id: "events", last, epoch, owner, expires}: the
//                  committed end of the log and the append lock
//   notifications  capped; one {last} per append, tailed by followers
//   checkpoints, leases
// Appends are serialized by the lock document and become visible only when `last` moves
// past them, in one update; so ids are visible in id order, a batch all at once, and a
// follower reading `id > last_seen` never skips one.

#include <chrono>
#include <memory>
#include <string>

#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

// Where and how to connect. A non-empty field overrides the same setting of `url`.
struct MongoOptions {
  // mongodb://user:password@host:27017,host2/db?replicaSet=rs0&authSource=admin ... or
  // mongodb+srv://; empty: mongodb://host:port/.
  std::string url;
  std::string host;  // without a URL; empty: localhost
  std::string port;  // without a URL; empty: 27017
  std::string user;
  std::string password;
  std::string database;  // empty: the URL's, else "api_broker"
  // Shown in the server's log and currentOp; lets an operator find this connection.
  std::string application_name = "api-broker";
  // true: writes are acknowledged by a majority and journaled (w: majority, j: true), so a
  // committed event survives power loss and a failover; false: w: 1 without waiting for
  // the journal (faster; a crash may lose the last commits, never reorder them).
  bool durable = true;
  // Bounds connecting and selecting the server (a URL may set its own connectTimeoutMS,
  // serverSelectionTimeoutMS).
  std::chrono::seconds connect_timeout{10};
};

// The layout version this build writes and reads (the "schema" document).
inline constexpr int mongo_schema_version = 1;

// Connects and creates or checks the collections: a usable store or an Error, never
// half-open. Errc::invalid_input for a malformed URL or database name; Errc::unavailable
// (one line, passwords redacted) when the server cannot be reached or refuses the login;
// Errc::unsupported for a server older than 4.2, a layout newer than this build, or an
// `events` collection api-broker did not create. After a connection is lost, the failing
// call returns Errc::unavailable and the next call reconnects.
Result<std::unique_ptr<EventStore>> open_mongo_store(const MongoOptions& options);

// The driver initialises itself when the program is loaded, before main(), and keeps counters
// in a /dev/shm/mongoc-<pid> file even in a run that never uses MongoDB; a killed process
// leaves it behind, and a later process given the same pid warns on stderr. Call first in
// main(): it turns that file off (MONGOC_DISABLE_SHM, read only at load time) by removing the
// file and starting the program again with the variable set. Returns only when the program
// already runs so, or cannot be started again.
void start_without_driver_shared_memory(char** argv);

}  // namespace api_broker::store
