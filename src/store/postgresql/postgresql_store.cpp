#include "api_broker/store/postgresql_store.hpp"
#include "api_broker/store/stored_row.hpp"

#include <poll.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/redact.hpp"
#include "postgresql_schema.hpp"
#include "postgresql_support.hpp"

namespace api_broker::store {
namespace {

using namespace pg;  // the SQL, libpq handles and helpers of this backend
using pg::QueryResult;

// A parameter in binary format (never NULL); `bytes` must outlive the call.
struct Param {
  std::string_view bytes;
};

std::int64_t to_micros(TimePoint time) { return time.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t micros) { return TimePoint(Duration(micros)); }

void ignore_notice(void*, const char*) {}

class PostgresStore final : public EventStore {
 public:
  PostgresStore(pg::Connection connection, bool durable)
      : connection_(std::move(connection)), durable_(durable) {
    // Server notices (a DBA's trigger, a deprecation) must not land on the CLI's stderr.
    PQsetNoticeProcessor(connection_.get(), ignore_notice, nullptr);
    target_ = fmt::format("{}:{}/{}", PQhost(connection_.get()), PQport(connection_.get()),
                          PQdb(connection_.get()));
  }

  // The first session: settings, then the schema, then statements. A usable store or an
  // Error, never half-open.
  Result<void> open_session() {
    if (auto ok = configure_session(); !ok) return ok;
    if (auto ok = ensure_schema(); !ok) return ok;
    if (auto ok = prepare_statements(); !ok) return ok;
    session_ready_ = true;
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
    if (batch.empty()) return ids;
    // Encode and check first: nothing touches the database for a batch that cannot be stored.
    auto columns = pg::encode_batch(batch);
    if (!columns) return fail(std::move(columns).error());
    const std::size_t count = batch.size();
    if (auto once = refuse_uuid_twice(columns->external_uuids, *this); !once)
      return fail(std::move(once).error());
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    const std::string created = pg::timestamptz_bytes(to_micros(utc_now()));
    const std::string epoch_bytes =
        fence != nullptr ? pg::int8_bytes(clamp_to_int64(fence->epoch)) : std::string();
    QueryResult result = fence == nullptr
                             ? execute(Sql::append, {{created},
                                                     {columns->causations.bytes()},
                                                     {columns->uuids.bytes()},
                                                     {columns->classes.bytes()},
                                                     {columns->payloads.bytes()}})
                             : execute(Sql::append_fenced, {{created},
                                                            {columns->causations.bytes()},
                                                            {columns->uuids.bytes()},
                                                            {columns->classes.bytes()},
                                                            {columns->payloads.bytes()},
                                                            {fence->lease},
                                                            {fence->owner},
                                                            {epoch_bytes}});
    if (PQresultStatus(result.get()) == PGRES_TUPLES_OK && PQntuples(result.get()) == 1) {
      const auto first = int_of(result.get(), 0, 0);
      if (!first || *first <= 0) return fail(Errc::corrupt, "postgresql append returned no id");
      ids.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        ids.push_back(EventId{static_cast<std::uint64_t>(*first) + i});
      }
      return ids;
    }
    if (is_unique_violation(result.get(), "events_external_uuid_key")) {
      return fail(duplicate_in(batch));
    }
    if (fence != nullptr && has_state(result.get(), fenced_state)) {
      const char* why = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
      return fail(Errc::fenced,
                  fmt::format("the '{}' lease taken by {} at epoch {} was taken over ({}); "
                              "nothing was stored",
                              fence->lease, fence->owner, fence->epoch,
                              pg::one_line(why != nullptr ? why : "")));
    }
    return fail(error_of(result.get(), "append", " (the events may or may not be stored)"));
  }

  Result<Envelope> get(EventId id) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    const std::string key = pg::int8_bytes(clamp_to_int64(events::to_int(id)));
    QueryResult result = execute(Sql::get, {{key}});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return fail(error_of(result.get(), "get"));
    }
    if (PQntuples(result.get()) == 0) {
      return fail(Errc::not_found, fmt::format("no event with id {}", events::to_int(id)),
                  events::to_int(id));
    }
    return decode_row(result.get(), 0);
  }

  Result<EventId> resolve(const Uuid& uuid) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    QueryResult result = execute(
        Sql::resolve, {{{reinterpret_cast<const char*>(uuid.bytes.data()), uuid.bytes.size()}}});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return fail(error_of(result.get(), "resolve"));
    }
    if (PQntuples(result.get()) == 0) {
      return fail(Errc::not_found, "no event with external UUID " + events::to_string(uuid));
    }
    const auto id = int_of(result.get(), 0, 0);
    if (!id || *id <= 0) return fail(Errc::corrupt, "postgresql resolve returned a bad id");
    return EventId{static_cast<std::uint64_t>(*id)};
  }

  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    const std::string from = pg::int8_bytes(clamp_to_int64(events::to_int(after)));
    const std::string rows = pg::int8_bytes(clamp_to_int64(limit));
    QueryResult result = execute(Sql::read_after, {{from}, {rows}});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return fail(error_of(result.get(), "read"));
    }
    std::vector<Envelope> batch;
    const int count = PQntuples(result.get());
    batch.reserve(static_cast<std::size_t>(count));
    for (int row = 0; row < count; ++row) {
      auto envelope = decode_row(result.get(), row);
      if (!envelope) {
        if (batch.empty()) return fail(std::move(envelope).error());
        break;  // the caller gets the rows before it; the next read reports it
      }
      batch.push_back(std::move(*envelope));
    }
    return batch;
  }

  Result<EventId> last_id() override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    QueryResult result = execute(Sql::last_id, {});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
      return fail(error_of(result.get(), "read"));
    }
    const auto id = int_of(result.get(), 0, 0);
    if (!id || *id < 0) return fail(Errc::corrupt, "postgresql max(id) is not an id");
    return EventId{static_cast<std::uint64_t>(*id)};
  }

  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override {
    if (auto usable = ready(); !usable) return usable;
    if (!listening_) {
      if (auto listened = listen(); !listened) return listened;
      listening_ = true;
    }
    notified_ = false;  // a notification from now on may mean a new event: check the log after
    auto last = last_id();
    if (!last) return fail(std::move(last).error());
    if (events::to_int(*last) > events::to_int(after) || notified_) return {};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!stop.stop_requested()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      std::array<pollfd, 2> fds = {
          {{PQsocket(connection_.get()), POLLIN, 0}, {stop.fd(), POLLIN, 0}}};
      if (fds[0].fd < 0) return fail(error_of(nullptr, "wait"));
      const int ready_count = ::poll(
          fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      if (ready_count < 0) {
        if (errno == EINTR) continue;
        return fail(Errc::unavailable, fmt::format("poll on postgresql {}: {}", target_,
                                                   std::generic_category().message(errno)));
      }
      if (fds[0].revents != 0) {
        if (PQconsumeInput(connection_.get()) == 0 ||
            PQstatus(connection_.get()) != CONNECTION_OK) {
          return fail(error_of(nullptr, "wait"));
        }
        note_notifications();
        if (notified_) return {};
      }
    }
    return {};
  }

  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    QueryResult result = execute(Sql::load_checkpoint, {{name}});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return fail(error_of(result.get(), "load checkpoint"));
    }
    if (PQntuples(result.get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(text_of(result.get(), 0, 0)));
  }

  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    if (auto usable = ready(); !usable) return usable;
    QueryResult result = execute(Sql::save_checkpoint, {{name}, {value}});
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return fail(error_of(result.get(), "save checkpoint"));
    }
    return {};
  }

  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    const std::string ttl_ms = pg::int8_bytes(ttl.count());
    // The holder row can vanish (released) or appear (a concurrent first taker) between the
    // statement's snapshot and its upsert; then nothing is returned and it is asked again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      QueryResult result = execute(Sql::acquire_lease, {{name}, {owner}, {ttl_ms}});
      if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
        return fail(error_of(result.get(), "acquire lease"));
      }
      if (PQntuples(result.get()) == 0) continue;
      const auto expires = int_of(result.get(), 0, 1);
      const auto epoch = int_of(result.get(), 0, 2);
      if (!expires || !epoch || *epoch < 0) {
        return fail(Errc::corrupt, "postgresql lease expiry or epoch is not valid");
      }
      return LeaseHolder{std::string(text_of(result.get(), 0, 0)), from_micros(*expires),
                         static_cast<std::uint64_t>(*epoch)};
    }
    return fail(
        Errc::unavailable,
        fmt::format("the '{}' lease on postgresql {} kept changing hands; retry", name, target_));
  }

  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    if (auto usable = ready(); !usable) return usable;
    QueryResult result = execute(Sql::release_lease, {{name}, {owner}});
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return fail(error_of(result.get(), "release lease"));
    }
    return {};
  }

  Result<void> close() override {
    connection_.reset();  // PQfinish reports nothing: the server ends the session either way
    return {};
  }

 private:
  Result<void> ensure_schema_in_transaction() {
    if (auto locked = exec(fmt::format("SELECT pg_advisory_xact_lock({})", schema_lock_key).c_str(),
                           "schema lock");
        !locked) {
      return locked;
    }
    QueryResult found(PQexec(connection_.get(),
                             "SELECT to_regclass('schema_version') IS NOT NULL, "
                             "to_regclass('events') IS NOT NULL"));
    if (PQresultStatus(found.get()) != PGRES_TUPLES_OK || PQntuples(found.get()) != 1) {
      return fail(error_of(found.get(), "schema check"));
    }
    const bool has_version = text_of(found.get(), 0, 0) == "t";
    const bool has_events = text_of(found.get(), 0, 1) == "t";
    std::int64_t version = 0;
    if (has_version) {
      QueryResult stored(
          PQexec(connection_.get(), "SELECT coalesce(max(version), 0) FROM schema_version"));
      if (PQresultStatus(stored.get()) != PGRES_TUPLES_OK || PQntuples(stored.get()) != 1) {
        return fail(error_of(stored.get(), "schema check"));
      }
      version = int_of(stored.get(), 0, 0).value_or(0);
    }
    if (version == postgres_schema_version) return {};
    if (version > postgres_schema_version) {
      return fail(Errc::unsupported,
                  fmt::format("postgresql database {} has schema version {}, newer than this "
                              "api-broker understands ({}); use a newer api-broker",
                              target_, version, postgres_schema_version));
    }
    if (version == 1) return exec(migration_v2_sql, "schema migration to version 2");
    if (has_version || has_events) {
      return fail(
          Errc::unsupported,
          fmt::format("postgresql database {} has {} that api-broker did not create "
                      "(schema version {}); use another database or schema",
                      target_, has_events ? "an events table" : "a schema_version table", version));
    }
    if (auto created = exec(schema_v1_sql, "schema creation"); !created) return created;
    return exec(migration_v2_sql, "schema creation");
  }

  // A usable session: after a lost connection (or a half-done setup, whose prepared
  // statements are gone with it), reconnects and sets the session up again.
  Result<void> ready() {
    if (!connection_) return fail(Errc::unavailable, "the postgresql event store is closed");
    if (session_ready_ && PQstatus(connection_.get()) == CONNECTION_OK) return {};
    session_ready_ = false;
    PQreset(connection_.get());
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      return fail(Errc::unavailable, fmt::format("cannot reconnect to postgresql {}: {}", target_,
                                                 pg::one_line(PQerrorMessage(connection_.get()))));
    }
    if (auto ok = configure_session(); !ok) return ok;
    if (auto ok = prepare_statements(); !ok) return ok;
    if (listening_) {
      if (auto ok = listen(); !ok) return ok;
    }
    session_ready_ = true;
    return {};
  }

  // Session settings that every statement relies on; checked again after a reconnect.
  Result<void> configure_session() {
    const char* encoding = PQparameterStatus(connection_.get(), "server_encoding");
    if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
      return fail(Errc::unsupported,
                  fmt::format("postgresql database {} has encoding {}; api-broker needs UTF8 "
                              "(CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)",
                              target_, encoding != nullptr ? encoding : "unknown"));
    }
    // READ COMMITTED: api_broker_append() must read max(id) after it holds the lock.
    std::string settings = "SET default_transaction_isolation = 'read committed'; ";
    settings += durable_ ? "SELECT set_config('synchronous_commit', 'on', false) "
                           "WHERE current_setting('synchronous_commit') = 'off'"
                         : "SET synchronous_commit = off";
    return exec(settings.c_str(), "session setup");
  }

  // Creates the schema or checks its version, under an advisory lock so that processes that
  // start at the same time create it once.
  Result<void> ensure_schema() {
    if (auto begun = exec("BEGIN ISOLATION LEVEL READ COMMITTED", "schema check"); !begun) {
      return begun;
    }
    auto result = ensure_schema_in_transaction();
    if (!result) {
      rollback();
      return result;
    }
    return exec("COMMIT", "schema creation");
  }

  Result<void> prepare_statements() {
    for (const auto& [name, sql] : statements) {
      QueryResult prepared(PQprepare(connection_.get(), name, sql, 0, nullptr));
      if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        return fail(error_of(prepared.get(), "prepare"));
      }
    }
    return {};
  }

  Result<void> listen() { return exec(fmt::format("LISTEN {}", notify_channel).c_str(), "listen"); }

  QueryResult execute(Sql which, std::initializer_list<Param> params) {
    constexpr std::size_t params_max = 8;
    API_BROKER_ASSERT(params.size() <= params_max);
    std::array<const char*, params_max> values{};
    std::array<int, params_max> lengths{};
    std::array<int, params_max> formats{};
    std::size_t n = 0;
    for (const Param& param : params) {
      API_BROKER_ASSERT(param.bytes.size() <= static_cast<std::size_t>(INT32_MAX));
      values[n] = param.bytes.empty() ? "" : param.bytes.data();  // nullptr would mean NULL
      lengths[n] = static_cast<int>(param.bytes.size());
      formats[n] = 1;
      ++n;
    }
    QueryResult result(
        PQexecPrepared(connection_.get(), statements[static_cast<std::size_t>(which)].first,
                       static_cast<int>(n), values.data(), lengths.data(), formats.data(), 0));
    note_notifications();
    return result;
  }

  // Runs SQL without parameters (session setup, schema DDL, transaction control).
  Result<void> exec(const char* sql, const char* what) {
    QueryResult result(PQexec(connection_.get(), sql));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return fail(error_of(result.get(), what));
    }
    return {};
  }

  void rollback() {
    if (PQtransactionStatus(connection_.get()) != PQTRANS_IDLE) {
      QueryResult ignored(PQexec(connection_.get(), "ROLLBACK"));
    }
  }

  // Notifications are only a wake-up: remember that one came, and free them, so that a
  // store that listens but rarely waits holds no more than the last one.
  void note_notifications() {
    while (PGnotify* notification = PQnotifies(connection_.get())) {
      notified_ = true;
      PQfreemem(notification);
    }
  }

  static bool has_state(const PGresult* result, std::string_view sqlstate) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    return state != nullptr && std::string_view(state) == sqlstate;
  }

  static bool is_unique_violation(const PGresult* result, std::string_view constraint) {
    if (result == nullptr) return false;
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const char* name = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
    return state != nullptr && std::string_view(state) == "23505" && name != nullptr &&
           std::string_view(name) == constraint;
  }

  // The error for a batch that hit the unique external UUID: the first of its UUIDs stored.
  Error duplicate_in(std::span<const NewEvent> batch) {
    std::size_t with_uuid = 0;
    for (const NewEvent& event : batch) with_uuid += event.external_uuid ? 1u : 0u;
    pg::BinaryArray uuids(pg::uuid_oid, with_uuid);
    for (const NewEvent& event : batch) {
      if (!event.external_uuid) continue;
      const auto& raw = event.external_uuid->bytes;
      uuids.add({reinterpret_cast<const char*>(raw.data()), raw.size()});
    }
    QueryResult result = execute(Sql::first_stored, {{uuids.bytes()}});
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return error_of(result.get(), "append");
    }
    if (PQntuples(result.get()) == 0) {  // removed since: unlikely, and still a duplicate
      return Error{Errc::duplicate, "duplicate event identifier", 0};
    }
    const auto id = int_of(result.get(), 0, 1);
    return Error{Errc::duplicate,
                 "duplicate event identifier " + std::string(text_of(result.get(), 0, 0)),
                 id && *id > 0 ? static_cast<std::uint64_t>(*id) : 0};
  }

  // One line: the server's message (and its detail), or libpq's when there is no result.
  Error error_of(const PGresult* result, std::string_view what,
                 std::string_view when_lost = {}) const {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const char* detail = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL) : nullptr;
    std::string message = primary != nullptr ? primary : PQerrorMessage(connection_.get());
    if (detail != nullptr) message += fmt::format(" ({})", detail);
    if (message.find_first_not_of(" \n") == std::string::npos) message = "unknown error";
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      return Error{Errc::unavailable, fmt::format("postgresql {} on {}: connection lost{}: {}",
                                                  what, target_, when_lost, pg::one_line(message))};
    }
    const std::string_view code = state != nullptr ? state : "";
    // Data the server cannot take (class 22: bad encoding, out of range; 54000: too large)
    // is the caller's input; anything else may pass (locks, restarts, permissions fixed).
    const Errc errc =
        code.starts_with("22") || code == "54000" ? Errc::invalid_input : Errc::unavailable;
    return Error{errc,
                 fmt::format("postgresql {} on {}: {}", what, target_, pg::one_line(message))};
  }

  Result<Envelope> decode_row(const PGresult* row, int index) const {
    const auto id = int_of(row, index, 0);
    if (!id || *id <= 0) return fail(Errc::corrupt, "postgresql returned an event without an id");
    const auto key = static_cast<std::uint64_t>(*id);
    const auto created = int_of(row, index, 1);
    const auto causation = int_of(row, index, 2);
    if (!created || !causation || *causation < 0) {
      return fail(Errc::corrupt,
                  fmt::format("event {} is corrupt: bad created or causation_id", key), key);
    }
    StoredRow stored{.id = key,
                     .created_us = *created,
                     .causation_id = static_cast<std::uint64_t>(*causation),
                     .external_uuid = std::nullopt,
                     .class_tag = text_of(row, index, 4),
                     .payload = text_of(row, index, 5)};
    if (!PQgetisnull(row, index, 3)) stored.external_uuid = text_of(row, index, 3);
    return decode_stored_row(stored);
  }

  pg::Connection connection_;
  bool durable_;
  std::string target_;  // host:port/database, for messages
  bool session_ready_ = false;
  bool listening_ = false;
  bool notified_ = false;
};

}  // namespace

namespace {

// Settings whose value libpq wants numeric (a port may be a comma-separated list, one per host).
bool is_numeric_setting(std::string_view keyword) {
  return keyword == "connect_timeout" || keyword == "port" || keyword == "keepalives_idle" ||
         keyword == "keepalives_interval" || keyword == "keepalives_count" ||
         keyword == "tcp_user_timeout";
}

// Decimal digits, or a comma-separated list of them (empty items allowed, as libpq does).
bool numeric_list(const char* text) {
  for (const char* c = text; *c != '\0'; ++c) {
    if (!((*c >= '0' && *c <= '9') || *c == ',' || *c == ' ')) return false;
  }
  return true;
}

// A connection the server refused for good (a wrong password, an unknown role or database,
// pg_hba.conf): waiting for the server cannot help, unlike a server that is down or starting.
bool refused_for_good(std::string_view why) {
  for (const std::string_view sign :
       {"authentication failed", "no password supplied", "does not exist", "pg_hba.conf",
        "permission denied", "password is required"}) {
    if (why.find(sign) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<EventStore>> open_postgres_store(const PostgresOptions& options) {
  if (!options.url.empty()) {
    char* problem = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &problem);
    if (parsed == nullptr) {
      const std::string why = problem != nullptr ? pg::one_line(problem) : "out of memory";
      PQfreemem(problem);
      return fail(Errc::invalid_input, fmt::format("invalid postgresql connection string '{}': {}",
                                                   redact_password(options.url), why));
    }
    // libpq reads a non-numeric connect_timeout or port only when it connects, and then as
    // a failure to connect: they are bad input, said as such.
    std::string bad;
    for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
      if (option->val == nullptr || !is_numeric_setting(option->keyword)) continue;
      if (!numeric_list(option->val) && bad.empty()) {
        bad = fmt::format("{}={} is not a number", option->keyword, pg::one_line(option->val));
      }
    }
    PQconninfoFree(parsed);
    if (!bad.empty()) {
      return fail(Errc::invalid_input, fmt::format("invalid postgresql connection string '{}': {}",
                                                   redact_password(options.url), bad));
    }
  }
  if (!options.port.empty() && !numeric_list(options.port.c_str())) {
    return fail(Errc::invalid_input, fmt::format("the postgresql port '{}' is not a number",
                                                 pg::one_line(options.port)));
  }
  const std::string timeout =
      std::to_string(std::max<std::int64_t>(options.connect_timeout.count(), 1));
  // Before the URL: defaults the URL may change. After it: settings that override it.
  std::vector<std::pair<const char*, const char*>> settings = {
      {"connect_timeout", timeout.c_str()},
      {"application_name", options.application_name.c_str()},
      // A server that vanishes (a cut network) is noticed within about a minute.
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
  };
  if (!options.url.empty()) settings.emplace_back("dbname", options.url.c_str());
  const std::pair<const char*, const std::string*> overrides[] = {
      {"host", &options.host},         {"port", &options.port},       {"user", &options.user},
      {"password", &options.password}, {"dbname", &options.database},
  };
  for (const auto& [keyword, value] : overrides) {
    if (!value->empty()) settings.emplace_back(keyword, value->c_str());
  }
  settings.emplace_back("client_encoding", "UTF8");  // the codec's JSON is UTF-8
  std::vector<const char*> keywords, values;
  for (const auto& [keyword, value] : settings) {
    keywords.push_back(keyword);
    values.push_back(value);
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  pg::Connection connection(
      PQconnectdbParams(keywords.data(), values.data(), options.url.empty() ? 0 : 1));
  if (!connection) return fail(Errc::unavailable, "cannot connect to postgresql: out of memory");
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    const std::string why = pg::one_line(PQerrorMessage(connection.get()));
    return fail(refused_for_good(why) ? Errc::rejected : Errc::unavailable,
                fmt::format("cannot connect to the postgresql event store: {}", why));
  }
  auto store = std::make_unique<PostgresStore>(std::move(connection), options.durable);
  if (auto ok = store->open_session(); !ok) return fail(std::move(ok).error());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace api_broker::store
