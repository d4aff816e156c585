#pragma once
// The PostgreSQL store's SQL: its schema (version 1 and the migration to 2), the advisory
// lock keys, and the statements every session prepares. Internal to the backend.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace api_broker::store::pg {

// Advisory lock keys ("apibrkA0", "apibrkS0"), per database: appends, schema changes.
inline constexpr std::int64_t append_lock_key = 7021227690617946416;
inline constexpr std::int64_t schema_lock_key = 7021227690617951024;
inline constexpr const char* notify_channel = "api_broker_events";
inline constexpr std::string_view fenced_state = "AB001";  // raised by api_broker_append_fenced()

// Version 1. Ids are assigned by api_broker_append() under a transaction-scoped advisory
// lock, so transactions that append commit in id order: a follower reading id > last_seen
// never skips a row that commits later with a smaller id. The function runs in one
// statement (one round trip); being VOLATILE, each statement in it sees a fresh snapshot in
// READ COMMITTED (set by the session), so max(id) is read after the lock is held.
// The trigger wakes followers (LISTEN api_broker_events) once per inserting statement, also
// for rows inserted by other means; the payload is empty: followers read the log after it.
inline constexpr const char* schema_v1_sql = R"sql(
CREATE TABLE schema_version (version integer NOT NULL);
CREATE TABLE events (
  id bigint PRIMARY KEY,
  created timestamptz NOT NULL,
  causation_id bigint NOT NULL DEFAULT 0,
  external_uuid uuid CONSTRAINT events_external_uuid_key UNIQUE,
  class text NOT NULL,
  payload jsonb NOT NULL
);
CREATE TABLE checkpoints (
  name text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE leases (
  name text PRIMARY KEY,
  owner text NOT NULL,
  expires timestamptz NOT NULL
);
CREATE FUNCTION api_broker_append(p_created timestamptz, p_causations bigint[], p_uuids uuid[],
                                  p_classes text[], p_payloads jsonb[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  first_id bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7021227690617946416);
  SELECT coalesce(max(id), 0) + 1 INTO first_id FROM events;
  INSERT INTO events (id, created, causation_id, external_uuid, class, payload)
  SELECT first_id + t.n - 1, p_created, t.c, t.u, t.k, t.p
  FROM unnest(p_causations, p_uuids, p_classes, p_payloads) WITH ORDINALITY AS t(c, u, k, p, n);
  RETURN first_id;
END
$$;
CREATE FUNCTION api_broker_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('api_broker_events', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION api_broker_notify();
INSERT INTO schema_version (version) VALUES (1);
)sql";
// Version 1 to 2: leases carry an epoch, incremented each time one changes hands, and
// api_broker_append_fenced() appends only while the lease is still held at the caller's
// epoch. FOR SHARE holds the lease row until the append commits: a takeover (an UPDATE of
// that row) waits for it, or the append sees the takeover's epoch. SQLSTATE AB001: fenced.
inline constexpr const char* migration_v2_sql = R"sql(
ALTER TABLE leases ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
CREATE FUNCTION api_broker_append_fenced(p_lease text, p_owner text, p_epoch bigint,
                                         p_created timestamptz, p_causations bigint[],
                                         p_uuids uuid[], p_classes text[], p_payloads jsonb[])
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  held_owner text;
  held_epoch bigint;
BEGIN
  SELECT owner, epoch INTO held_owner, held_epoch FROM leases WHERE name = p_lease FOR SHARE;
  IF held_owner IS DISTINCT FROM p_owner OR held_epoch IS DISTINCT FROM p_epoch THEN
    RAISE EXCEPTION USING ERRCODE = 'AB001',
      MESSAGE = format('the lease %s is now held by %s at epoch %s', p_lease,
                       coalesce(nullif(held_owner, ''), 'nobody'), coalesce(held_epoch, 0));
  END IF;
  RETURN api_broker_append(p_created, p_causations, p_uuids, p_classes, p_payloads);
END
$$;
UPDATE schema_version SET version = 2;
)sql";
static_assert(postgres_schema_version == 2, "add the migration from the previous version");
static_assert(std::string_view(schema_v1_sql).find("pg_advisory_xact_lock(7021227690617946416)") !=
              std::string_view::npos);
static_assert(append_lock_key == 7021227690617946416);
static_assert(std::string_view(schema_v1_sql).find("pg_notify('api_broker_events'") !=
              std::string_view::npos);

// The prepared statements of a session; parameters are sent in binary format.
enum class Sql : std::size_t {
  append,
  append_fenced,
  get,
  resolve,
  first_stored,
  read_after,
  last_id,
  load_checkpoint,
  save_checkpoint,
  acquire_lease,
  release_lease,
  count
};

#define API_BROKER_EVENT_COLUMNS                                                              \
  "SELECT id, (extract(epoch FROM created) * 1000000)::bigint, causation_id, external_uuid, " \
  "class, payload FROM events "

inline constexpr std::array<std::pair<const char*, const char*>,
                            static_cast<std::size_t>(Sql::count)>
    statements = {{
        {"api_broker_append",
         "SELECT api_broker_append($1::timestamptz, $2::bigint[], $3::uuid[], $4::text[], "
         "$5::jsonb[])"},
        {"api_broker_append_fenced",
         "SELECT api_broker_append_fenced($6::text, $7::text, $8::bigint, $1::timestamptz, "
         "$2::bigint[], $3::uuid[], $4::text[], $5::jsonb[])"},
        {"api_broker_get", API_BROKER_EVENT_COLUMNS "WHERE id = $1::bigint"},
        {"api_broker_resolve", "SELECT id FROM events WHERE external_uuid = $1::uuid"},
        {"api_broker_first_stored",
         "SELECT b.u, e.id FROM unnest($1::uuid[]) WITH ORDINALITY AS b(u, n) "
         "JOIN events e ON e.external_uuid = b.u ORDER BY b.n LIMIT 1"},
        {"api_broker_read_after",
         API_BROKER_EVENT_COLUMNS "WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"},
        {"api_broker_last_id", "SELECT coalesce(max(id), 0) FROM events"},
        {"api_broker_load_checkpoint", "SELECT value FROM checkpoints WHERE name = $1::text"},
        {"api_broker_save_checkpoint",
         "INSERT INTO checkpoints (name, value) VALUES ($1::text, $2::text) "
         "ON CONFLICT (name) DO UPDATE SET value = excluded.value"},
        // Taken when free, expired, or already held by the caller (then renewed, its epoch
        // unchanged; taken from another or from nobody, the epoch grows); otherwise the
        // holder is returned. The server's clock decides, the same for every machine.
        {"api_broker_acquire_lease",
         "WITH taken AS ("
         " INSERT INTO leases AS l (name, owner, expires, epoch)"
         " VALUES ($1::text, $2::text, clock_timestamp() + $3::bigint * interval '1 millisecond',"
         " 1)"
         " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires,"
         " epoch = CASE WHEN l.owner = excluded.owner THEN l.epoch ELSE l.epoch + 1 END"
         " WHERE l.owner = excluded.owner OR l.owner = '' OR l.expires <= clock_timestamp()"
         " RETURNING owner, expires, epoch) "
         "SELECT owner, (extract(epoch FROM expires) * 1000000)::bigint, epoch FROM taken "
         "UNION ALL "
         "SELECT owner, (extract(epoch FROM expires) * 1000000)::bigint, epoch FROM leases "
         "WHERE name = $1::text AND NOT EXISTS (SELECT 1 FROM taken)"},
        {"api_broker_release_lease",
         "UPDATE leases SET owner = '', expires = to_timestamp(0) "
         "WHERE name = $1::text AND owner = $2::text"},
    }};

#undef API_BROKER_EVENT_COLUMNS

}  // namespace api_broker::store::pg
