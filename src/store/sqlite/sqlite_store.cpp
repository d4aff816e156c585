#include "api_broker/store/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/stored_row.hpp"
#include "notify_file_watch.hpp"
#include "sqlite_file.hpp"

namespace api_broker::store {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Database = std::unique_ptr<sqlite3, DbCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Resets and clears a cached statement when the scope using it ends.
class [[nodiscard]] Use {
 public:
  explicit Use(sqlite3_stmt* statement) : statement_(statement) {}
  ~Use() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  [[nodiscard]] sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_;
};

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_us INTEGER NOT NULL,
  causation_id INTEGER NOT NULL DEFAULT 0,
  external_uuid TEXT UNIQUE,
  class TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_us INTEGER NOT NULL,
  epoch INTEGER NOT NULL DEFAULT 0
);
)sql";
// Version 1 to 2: leases carry the epoch that fenced appends check (a free lease has the
// owner '').
constexpr const char* migration_v2_sql =
    "ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;";
static_assert(sqlite_schema_version == 2, "add the migration from the previous version");

std::int64_t to_micros(TimePoint time) { return time.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t micros) { return TimePoint(Duration(micros)); }

std::string_view column_text(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))};
}

// Writers of one database file in this process (serve --process: the submitter and the
// processor) take turns on a mutex before SQLite's write lock: the next one starts the moment
// the last one commits, where SQLite's busy handler would have it sleep 1, 2, 5 ms ... and
// retry. Writers in other processes still meet SQLite's lock and its busy handler.
std::shared_ptr<std::mutex> writer_turn_of(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::pair<dev_t, ino_t>, std::weak_ptr<std::mutex>> registry;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::make_shared<std::mutex>();
  const std::lock_guard lock(registry_mutex);
  std::weak_ptr<std::mutex>& entry = registry[{info.st_dev, info.st_ino}];
  auto turn = entry.lock();
  if (!turn) {
    turn = std::make_shared<std::mutex>();
    entry = turn;
  }
  return turn;
}

class SqliteStore final : public EventStore {
 public:
  SqliteStore(Database db, std::string path)
      : db_(std::move(db)),
        path_(std::move(path)),
        watch_(path_),
        writer_turn_(writer_turn_of(path_)) {}

  Result<void> prepare_statements() {
    const std::pair<Statement*, const char*> statements[] = {
        {&insert_,
         "INSERT INTO events (created_us, causation_id, external_uuid, class, payload) "
         "VALUES (?, ?, ?, ?, ?)"},
        {&get_,
         "SELECT id, created_us, causation_id, external_uuid, class, payload FROM events "
         "WHERE id = ?"},
        {&resolve_, "SELECT id FROM events WHERE external_uuid = ?"},
        {&read_after_,
         "SELECT id, created_us, causation_id, external_uuid, class, payload FROM events "
         "WHERE id > ? ORDER BY id LIMIT ?"},
        {&last_id_, "SELECT max(id) FROM events"},
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
    };
    for (const auto& [target, sql] : statements) {
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
          SQLITE_OK) {
        return failure("prepare");
      }
      target->reset(raw);
    }
    return {};
  }

  Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) override {
    return append_events(batch, nullptr);
  }

  Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                   const Fence& fence) override {
    return append_events(batch, &fence);
  }

  Result<std::vector<EventId>> append_events(std::span<const NewEvent> batch, const Fence* fence) {
    std::vector<EventId> ids;
    ids.reserve(batch.size());
    if (batch.empty()) return ids;
    // Encode first: nothing touches the database for a batch that cannot be stored.
    std::vector<std::string> payloads;
    payloads.reserve(batch.size());
    for (const NewEvent& event : batch) {
      payloads.push_back(events::encode_payload(event.event));
      if (payloads.back().size() > limits::payload_bytes_max) {
        return fail(Errc::invalid_input,
                    fmt::format("{} payload is larger than {} bytes",
                                events::class_name(event.event), limits::payload_bytes_max));
      }
    }
    const std::lock_guard turn(*writer_turn_);
    if (auto begun = exec(begin_.get(), "begin"); !begun) return fail(std::move(begun).error());
    if (fence != nullptr) {  // in the write transaction: no lease can change hands meanwhile
      auto holder = read_lease(fence->lease);
      if (!holder || !holds(*holder, *fence)) {
        rollback();
        return fail(holder ? lease_lost(*fence, *holder) : std::move(holder).error());
      }
    }
    const std::int64_t created = to_micros(utc_now());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const NewEvent& event = batch[i];
      Use insert(insert_.get());
      sqlite3_bind_int64(insert.get(), 1, created);
      sqlite3_bind_int64(insert.get(), 2,
                         static_cast<sqlite3_int64>(events::to_int(event.causation_id)));
      std::string uuid;
      if (event.external_uuid) {
        uuid = events::to_string(*event.external_uuid);
        sqlite3_bind_text(insert.get(), 3, uuid.data(), static_cast<int>(uuid.size()),
                          SQLITE_STATIC);
      } else {
        sqlite3_bind_null(insert.get(), 3);
      }
      const std::string_view tag = events::class_name(event.event);
      sqlite3_bind_text(insert.get(), 4, tag.data(), static_cast<int>(tag.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert.get(), 5, payloads[i].data(), static_cast<int>(payloads[i].size()),
                        SQLITE_STATIC);
      const int rc = sqlite3_step(insert.get());
      if (rc == SQLITE_DONE) {
        ids.push_back(EventId{static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_.get()))});
        continue;
      }
      Error error = rc == SQLITE_CONSTRAINT_UNIQUE && event.external_uuid
                        ? duplicate_of(*event.external_uuid)
                        : failure("append").error();
      rollback();
      return fail(std::move(error));
    }
    if (auto committed = exec(commit_.get(), "commit"); !committed) {
      rollback();
      return fail(std::move(committed).error());
    }
    watch_.announce();
    return ids;
  }

  Result<Envelope> get(EventId id) override {
    Use query(get_.get());
    sqlite3_bind_int64(query.get(), 1, static_cast<sqlite3_int64>(events::to_int(id)));
    const int rc = sqlite3_step(query.get());
    if (rc == SQLITE_DONE) {
      return fail(Errc::not_found, fmt::format("no event with id {}", events::to_int(id)),
                  events::to_int(id));
    }
    if (rc != SQLITE_ROW) return fail(failure("get").error());
    return decode_row(query.get());
  }

  Result<EventId> resolve(const Uuid& uuid) override {
    Use query(resolve_.get());
    const std::string text = events::to_string(uuid);
    sqlite3_bind_text(query.get(), 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(query.get());
    if (rc == SQLITE_DONE) return fail(Errc::not_found, "no event with external UUID " + text);
    if (rc != SQLITE_ROW) return fail(failure("resolve").error());
    return EventId{static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 0))};
  }

  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override {
    Use query(read_after_.get());
    sqlite3_bind_int64(query.get(), 1, static_cast<sqlite3_int64>(events::to_int(after)));
    sqlite3_bind_int64(query.get(), 2, static_cast<sqlite3_int64>(limit));
    std::vector<Envelope> batch;
    for (;;) {
      const int rc = sqlite3_step(query.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(failure("read").error());
      auto envelope = decode_row(query.get());
      if (!envelope) {
        if (batch.empty()) return fail(std::move(envelope).error());
        break;  // the caller gets the rows before it; the next read reports it
      }
      batch.push_back(std::move(*envelope));
    }
    return batch;
  }

  Result<EventId> last_id() override {
    Use query(last_id_.get());
    if (sqlite3_step(query.get()) != SQLITE_ROW) return fail(failure("read").error());
    return EventId{static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 0))};
  }

  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override {
    watch_.drain();  // changes from now on wake us; so check the log after this
    auto last = last_id();
    if (!last) return fail(std::move(last).error());
    if (events::to_int(*last) > events::to_int(after)) return {};
    watch_.wait(timeout, stop);
    return {};
  }

  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    auto statement = prepare("SELECT value FROM checkpoints WHERE name = ?");
    if (!statement) return fail(std::move(statement).error());
    sqlite3_bind_text(statement->get(), 1, name.data(), static_cast<int>(name.size()),
                      SQLITE_STATIC);
    const int rc = sqlite3_step(statement->get());
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return fail(failure("load checkpoint").error());
    return std::optional<std::string>(std::string(column_text(statement->get(), 0)));
  }

  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    auto statement = prepare(
        "INSERT INTO checkpoints (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    if (!statement) return fail(std::move(statement).error());
    sqlite3_bind_text(statement->get(), 1, name.data(), static_cast<int>(name.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(statement->get(), 2, value.data(), static_cast<int>(value.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(statement->get()) != SQLITE_DONE) return failure("save checkpoint");
    return {};
  }

  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override {
    if (auto begun = exec(begin_.get(), "begin"); !begun) return fail(std::move(begun).error());
    auto result = acquire_lease_in_transaction(name, owner, ttl);
    if (!result) {
      rollback();
      return result;
    }
    if (auto committed = exec(commit_.get(), "commit"); !committed) {
      rollback();
      return fail(std::move(committed).error());
    }
    return result;
  }

  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    auto statement =
        prepare("UPDATE leases SET owner = '', expires_us = 0 WHERE name = ? AND owner = ?");
    if (!statement) return fail(std::move(statement).error());
    sqlite3_bind_text(statement->get(), 1, name.data(), static_cast<int>(name.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(statement->get(), 2, owner.data(), static_cast<int>(owner.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(statement->get()) != SQLITE_DONE) return failure("release lease");
    return {};
  }

  Result<void> close() override {
    insert_.reset();
    get_.reset();
    resolve_.reset();
    read_after_.reset();
    last_id_.reset();
    begin_.reset();
    commit_.reset();
    rollback_.reset();
    lease_.reset();
    if (db_ && sqlite3_close(db_.get()) != SQLITE_OK) return failure("close");
    (void)db_.release();
    return {};
  }

 private:
  // The lease as stored; a free one (never taken, or released) has no owner.
  // Every fenced append asks: prepared once, on first use (a reader of a version-1 file,
  // whose leases have no epoch, never does).
  Result<LeaseHolder> read_lease(std::string_view name) {
    if (!lease_) {
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v3(db_.get(),
                             "SELECT owner, expires_us, epoch FROM leases WHERE name = ?", -1,
                             SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
        return fail(failure("prepare").error());
      }
      lease_.reset(raw);
    }
    Use current(lease_.get());
    sqlite3_bind_text(current.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(current.get());
    if (rc == SQLITE_DONE) return LeaseHolder{};
    if (rc != SQLITE_ROW) return fail(failure("read lease").error());
    return LeaseHolder{std::string(column_text(current.get(), 0)),
                       from_micros(sqlite3_column_int64(current.get(), 1)),
                       static_cast<std::uint64_t>(sqlite3_column_int64(current.get(), 2))};
  }

  Result<LeaseHolder> acquire_lease_in_transaction(std::string_view name, std::string_view owner,
                                                   std::chrono::milliseconds ttl) {
    const TimePoint now = utc_now();
    auto current = read_lease(name);
    if (!current) return current;
    LeaseHolder holder = std::move(*current);
    if (holder.owner == owner) {
      holder.expires = now + ttl;  // a renewal: the same epoch
    } else if (holder.owner.empty() || holder.expires <= now) {
      holder = LeaseHolder{std::string(owner), now + ttl, holder.epoch + 1};
    } else {
      return holder;
    }
    auto upsert = prepare(
        "INSERT INTO leases (name, owner, expires_us, epoch) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_us = "
        "excluded.expires_us, epoch = excluded.epoch");
    if (!upsert) return fail(std::move(upsert).error());
    sqlite3_bind_text(upsert->get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    sqlite3_bind_text(upsert->get(), 2, owner.data(), static_cast<int>(owner.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(upsert->get(), 3, to_micros(holder.expires));
    sqlite3_bind_int64(upsert->get(), 4, static_cast<sqlite3_int64>(holder.epoch));
    if (sqlite3_step(upsert->get()) != SQLITE_DONE) return fail(failure("write lease").error());
    return holder;
  }

  static Result<Envelope> decode_row(sqlite3_stmt* row) {
    StoredRow stored{.id = static_cast<std::uint64_t>(sqlite3_column_int64(row, 0)),
                     .created_us = sqlite3_column_int64(row, 1),
                     .causation_id = static_cast<std::uint64_t>(sqlite3_column_int64(row, 2)),
                     .external_uuid = std::nullopt,
                     .class_tag = column_text(row, 4),
                     .payload = column_text(row, 5)};
    if (sqlite3_column_type(row, 3) != SQLITE_NULL) stored.external_uuid = column_text(row, 3);
    return decode_stored_row(stored);
  }

  Error duplicate_of(const Uuid& uuid) {
    auto existing = resolve(uuid);
    return Error{Errc::duplicate, "duplicate event identifier " + events::to_string(uuid),
                 existing ? events::to_int(*existing) : 0};
  }

  Result<Statement> prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      return fail(failure("prepare").error());
    }
    return Statement(raw);
  }

  Result<void> exec(sqlite3_stmt* statement, const char* what) {
    Use use(statement);
    const int rc = sqlite3_step(use.get());
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return failure(what);
    return {};
  }

  void rollback() {
    if (sqlite3_get_autocommit(db_.get()) == 0) (void)exec(rollback_.get(), "rollback");
  }

  Result<void> failure(const char* what) const {
    const int rc = sqlite3_extended_errcode(db_.get());
    const std::string message =
        fmt::format("sqlite {} on {}: {}", what, path_, sqlite3_errmsg(db_.get()));
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return fail(Errc::unavailable, message + " (another process holds the write lock)");
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        return fail(Errc::corrupt, message);
      default:
        return fail(Errc::unavailable, message);
    }
  }

  Database db_;
  std::string path_;
  NotifyFileWatch watch_;
  std::shared_ptr<std::mutex> writer_turn_;  // shared by this process's writers of the file
  Statement insert_, get_, resolve_, read_after_, last_id_, begin_, commit_, rollback_;
  Statement lease_;  // read_lease(), prepared on first use
};

Result<void> exec_sql(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const int rc = sqlite3_extended_errcode(db);
    std::string message =
        fmt::format("sqlite database {}: {}", path, error != nullptr ? error : sqlite3_errmsg(db));
    sqlite3_free(error);
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
      return fail(Errc::corrupt, message + " (is it an api-broker event store?)");
    }
    if ((rc & 0xff) == SQLITE_BUSY) return fail(Errc::unavailable, message);
    return fail(Errc::unavailable, message);
  }
  return {};
}

Result<int> user_version(sqlite3* db, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &raw, nullptr) != SQLITE_OK) {
    return fail(Errc::unavailable, fmt::format("sqlite database {}: {}", path, sqlite3_errmsg(db)));
  }
  Statement statement(raw);
  const int rc = sqlite3_step(raw);
  if (rc != SQLITE_ROW) {
    const Errc code = (rc & 0xff) == SQLITE_NOTADB ? Errc::corrupt : Errc::unavailable;
    return fail(code, fmt::format("sqlite database {}: {}", path, sqlite3_errmsg(db)));
  }
  return sqlite3_column_int(raw, 0);
}

// Whether the schema of a database without api-broker's version holds any table: then it is
// someone else's database, not a new file.
Result<bool> has_tables(sqlite3* db, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &raw, nullptr) !=
      SQLITE_OK) {
    return fail(Errc::unavailable, fmt::format("sqlite database {}: {}", path, sqlite3_errmsg(db)));
  }
  Statement statement(raw);
  if (sqlite3_step(raw) != SQLITE_ROW) {
    return fail(Errc::unavailable, fmt::format("sqlite database {}: {}", path, sqlite3_errmsg(db)));
  }
  return sqlite3_column_int(raw, 0) > 0;
}

// Checks the schema version; a writer creates the schema once, safely when several
// processes open a new file at the same time.
// `empty`: a reader found a database without tables (a writer may be creating it).
Result<void> ensure_schema(sqlite3* db, const std::string& path, bool read_only, bool& empty) {
  auto version = user_version(db, path);
  if (!version) return fail(std::move(version).error());
  if (*version == sqlite_schema_version) return {};
  if (*version > sqlite_schema_version) {
    return fail(Errc::unsupported,
                fmt::format("sqlite database {} has schema version {}, newer than this api-broker "
                            "understands ({}); use a newer api-broker",
                            path, *version, sqlite_schema_version));
  }
  // Version 1 differs only in the leases a reader never touches: read it as it is.
  if (read_only && *version == 1) return {};
  if (read_only) {
    auto tables = has_tables(db, path);
    if (!tables) return fail(std::move(tables).error());
    // The version and the tables were read in two transactions: a writer may have committed
    // the schema in between.
    if (*tables) {
      version = user_version(db, path);
      if (version && *version == sqlite_schema_version) return {};
    }
    empty = !*tables;
    return fail(not_a_store(
        path, *tables ? "a SQLite database of something else" : "an empty SQLite database"));
  }
  if (auto begun = exec_sql(db, path, "BEGIN IMMEDIATE"); !begun) return begun;
  version = user_version(db, path);
  Result<void> result;
  if (!version) {
    result = fail(std::move(version).error());
  } else if (*version == 1) {
    result = exec_sql(db, path, migration_v2_sql);
    if (result) {
      result = exec_sql(db, path,
                        fmt::format("PRAGMA user_version = {}", sqlite_schema_version).c_str());
    }
  } else if (*version == 0) {
    auto tables = has_tables(db, path);
    if (!tables) {
      result = fail(std::move(tables).error());
    } else if (*tables) {
      result = fail(not_a_store(path, "a SQLite database of something else"));
    } else {
      result = exec_sql(db, path, schema_sql);
    }
    if (result) {
      result = exec_sql(db, path,
                        fmt::format("PRAGMA user_version = {}", sqlite_schema_version).c_str());
    }
  }
  if (!result) {
    (void)exec_sql(db, path, "ROLLBACK");
    return result;
  }
  return exec_sql(db, path, "COMMIT");
}

// One try at opening the store. `transient`: the failure is one that passes when the other
// process opening the same new file gets on (see open_sqlite_store).
Result<std::unique_ptr<EventStore>> open_once(const SqliteOptions& options, bool& transient) {
  const std::string& path = options.path;
  transient = false;
  const auto size = [&path]() -> off_t {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 ? info.st_size : -1;
  };
  const off_t size_before = size();
  if (auto file = check_or_create_file(options); !file) {
    // A reader refused an empty file, or one that a writer changed meanwhile.
    transient = options.read_only && (size_before == 0 || size() != size_before);
    return fail(std::move(file).error());
  }
  // On a read-only filesystem no -shm can be made, and no one can write: open it immutable.
  struct statvfs filesystem {};
  const bool read_only_filesystem = options.read_only &&
                                    ::statvfs(path.c_str(), &filesystem) == 0 &&
                                    (filesystem.f_flag & ST_RDONLY) != 0;
  sqlite3* raw = nullptr;
  const int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX | (read_only_filesystem ? SQLITE_OPEN_URI : 0);
  const std::string name = read_only_filesystem ? immutable_uri(path) : path;
  const int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) {
    return fail(Errc::unavailable, fmt::format("cannot open sqlite database {}: {}", path,
                                               raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // SQLite's own busy handler (sleeps of 1, 2, 5, 10 ... 100 ms) for up to busy_timeout
  // rather than one of ours: with an inserter contending with the processor it gave twice
  // the requests/s of a sleeping handler with the same steps and jitter (broker_bench,
  // zero-latency figure: 14,398 against 6,785 requests/s).
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
  const auto busy = [&db] { return (sqlite3_errcode(db.get()) & 0xff) == SQLITE_BUSY; };
  if (!options.read_only) {
    if (auto ok = exec_sql(db.get(), path, "PRAGMA journal_mode = WAL"); !ok) {
      transient = busy();
      return fail(std::move(ok).error());
    }
    const char* sync =
        options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    if (auto ok = exec_sql(db.get(), path, sync); !ok) {
      transient = busy();
      return fail(std::move(ok).error());
    }
  }
  bool empty = false;
  if (auto ok = ensure_schema(db.get(), path, options.read_only, empty); !ok) {
    transient = busy() || empty;
    return fail(std::move(ok).error());
  }
  auto store = std::make_unique<SqliteStore>(std::move(db), path);
  if (auto ok = store->prepare_statements(); !ok) return fail(std::move(ok).error());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace

// Several processes may open a new file at once (a processor and an inserter started
// together). Switching the file to WAL and creating the schema take locks for which SQLite
// skips its busy handler (waiting there could deadlock: "database is locked" at once), and a
// reader may find a file that a writer has created but not yet given its schema. Those tries
// are repeated with a growing pause: a writer's for busy_timeout, a reader's for
// limits::sqlite_new_store_wait_max (after which an empty file is refused as before).
Result<std::unique_ptr<EventStore>> open_sqlite_store(const SqliteOptions& options) {
  if (options.path.empty()) return fail(Errc::invalid_input, "the sqlite database path is empty");
  const auto until =
      std::chrono::steady_clock::now() +
      std::min(options.busy_timeout,
               options.read_only ? limits::sqlite_new_store_wait_max : options.busy_timeout);
  std::chrono::milliseconds pause{1};
  for (;;) {
    bool transient = false;
    auto opened = open_once(options, transient);
    if (opened || !transient || std::chrono::steady_clock::now() + pause > until) return opened;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace api_broker::store
