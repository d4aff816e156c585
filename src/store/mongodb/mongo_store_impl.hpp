#pragma once
// The MongoDB store's class, shared by the files that implement it: mongo_store.cpp (opening,
// reads, checkpoints), mongo_layout.cpp (the collections), mongo_append.cpp (the append lock
// and appends), mongo_follow.cpp (waiting for appends), mongo_lease.cpp (leases), and
// mongo_expressions.cpp (the update pipelines they share). Internal to the backend.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api_broker/store/event_store.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "bson_payload.hpp"
#include "mongo_support.hpp"
#include "notification_watcher.hpp"

namespace api_broker::store::mongo {

// The lock document's holder may keep it this long without committing; a holder that died
// on another machine is replaced after it, one of this machine at once.
inline constexpr std::chrono::milliseconds append_lock_ttl{10'000};
// An append waits this long for the lock before it gives up (Errc::unavailable).
// MongoDB 4.2: pipeline updates and $$NOW.
inline constexpr std::int32_t wire_version_min = 8;

std::int64_t clamp_to_int64(std::uint64_t value);

void append_uuid(bson_t* document, const char* key, const Uuid& uuid);

// {key: {$literal: text}}: a string inside an aggregation expression is a field path when it
// starts with "$"; an owner is data, whatever it looks like.
void append_literal(bson_t* parent, const char* key, std::string_view text);

// The pipeline that takes the lock document (or the lease) when `condition` holds and
// otherwise leaves it as it is: {$set: {field: {$cond: [condition, new, "$field"]}, ...}}.
void append_conditional_set(bson_t* pipeline, const bson_t* condition,
                            std::initializer_list<std::pair<const char*, const bson_t*>> fields,
                            const char* stage_key = "0");

// {$or: [{$eq: ["$owner", null]}, {$eq: ["$owner", <each of owners>]},
//        {$lte: ["$expires", "$$NOW"]}]}: free, held by one of `owners`, or expired by the
// server's clock (a document without `expires` counts as expired). Owners are data, never
// spliced into text.
Bson free_or_expired(std::initializer_list<std::string_view> owners);

struct AppendLock {
  std::int64_t epoch = 0;
  std::int64_t last = 0;
};

// One connection to the store's database (see mongo_store.hpp). Not thread-safe: one owner.
class MongoStore final : public EventStore {
 public:
  MongoStore(mongo::Uri uri, mongo::Client client, std::string database, std::string target,
             bool durable);

  ~MongoStore() override { (void)close(); }

  // Checks the server's version, then creates or checks the collections.
  Result<void> open_session();

  Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) override;

  Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                   const Fence& fence) override;

  // A fenced append checks the lease while it holds the append lock, and commits only if it
  // still holds that lock: a lease changes hands only under the append lock (take_lease), so
  // no takeover can come between the check and the commit.
  Result<std::vector<EventId>> append_events(std::span<const NewEvent> batch, const Fence* fence);

  Result<Envelope> get(EventId id) override;

  Result<EventId> resolve(const Uuid& uuid) override;

  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override;

  Result<EventId> last_id() override;

  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override;

  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override;

  Result<void> save_checkpoint(std::string_view name, std::string_view value) override;

  // A renewal (held by `owner`) is one round trip. Anything else may change hands: that
  // happens under the append lock, so that fenced appends see it atomically.
  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override;

  Result<void> release_lease(std::string_view name, std::string_view owner) override;

  Result<void> close() override;

 private:
  Result<void> ready() const;

  bool write_command(mongoc_collection_t* collection, const bson_t* command, bson_t* reply,
                     bson_error_t* error);

  // The lease as stored: a free one (none yet, or released) has no owner.
  Result<LeaseHolder> read_lease(std::string_view name);

  Result<LeaseHolder> lease_of(const bson_t* document, std::string_view name) const;

  // Extends the lease if `owner` holds it (expired or not): the holder, or nothing when
  // `owner` does not hold it.
  Result<std::optional<LeaseHolder>> renew_lease(std::string_view name, std::string_view owner,
                                                 std::chrono::milliseconds ttl);

  // Takes the lease when free, expired by the server's clock, or held by `owner`; taking it
  // from another or from nobody increments its epoch. REQUIRES: the append lock is held.
  Result<LeaseHolder> take_lease(std::string_view name, std::string_view owner,
                                 std::chrono::milliseconds ttl);

  Result<void> ensure_schema();

  // The stored layout version; 0 when the database has none yet.
  Result<std::int64_t> schema_version();

  // Every step may run in several processes at once and again after a crash: each one is
  // idempotent, and the schema document, written last, says the layout is complete.
  Result<void> create_schema();

  // An insert-if-missing into api_broker; a concurrent opener's insert wins just as well.
  Result<void> upsert_once(const bson_t* filter, const bson_t* update);
  // Creates the capped notifications collection, or checks that the existing one is capped.
  Result<void> check_notifications();
  // The unique index on external_uuid; one api-broker did not create is refused.
  Result<void> create_uuid_index();

  Result<std::int64_t> read_last();

  // Whether the event `id` was committed (not the leftover of a writer that died or lost
  // the lock before its commit).
  Result<bool> is_committed(std::uint64_t id);

  // Takes the lock document: when it is free, held by this store (a call that failed before
  // releasing it), expired by the server's clock, or held by a process of this machine that
  // has exited. Each taking increments `epoch`, which fences out a holder whose lock expired.
  Result<AppendLock> acquire_append_lock();

  // Inserts the batch with the ids after lock.last, in order. Errc::cancelled when an id or
  // an external UUID collided with an uncommitted leftover (remove them, try again);
  // Errc::duplicate when an external UUID is stored in a committed event.
  Result<void> insert_events(std::span<const NewEvent> batch, const std::vector<Bson>& payloads,
                             const AppendLock& lock, std::int64_t created_us);
  // Why an insert_events() failed on a duplicate key (its `reply` and `error`): Errc::duplicate
  // when an external UUID is stored in a committed event, else Errc::cancelled.
  Result<void> explain_duplicate_key(std::span<const NewEvent> batch, const AppendLock& lock,
                                     const bson_t* reply, const bson_error_t& error);

  // Removes the events after lock.last written under this lock or an older one: a partial
  // batch, the leftovers of writers that died or lost the lock. A newer holder's events (a
  // larger epoch) are kept: if this store has lost the lock, they may be committed.
  Result<void> remove_uncommitted(const AppendLock& lock);

  void release_append_lock(const AppendLock& lock);

  // Moves `last` past the batch and frees the lock in one update, if this store still holds
  // the lock: the batch becomes visible to every reader at once.
  Result<void> commit(const AppendLock& lock, std::int64_t count);

  void notify(std::int64_t last);

  Result<Envelope> decode(const bson_t* document) const;

  mongo::Uri uri_;
  mongo::Client client_;
  std::string database_name_;
  std::string target_;  // host:port/database, for messages
  std::string owner_;   // this store's name in the lock document
  mongo::Database database_;
  mongo::Collection events_, meta_, notifications_, checkpoints_, leases_;
  mongo::WriteConcern write_concern_, fast_concern_;
  std::int64_t known_last_ = 0;  // the largest committed id seen: ids up to it are committed
  std::unique_ptr<mongo::NotificationWatcher> watcher_;
};

}  // namespace api_broker::store::mongo
