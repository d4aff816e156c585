#include "api_broker/store/mongo_store.hpp"

#include <poll.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/process_owner.hpp"
#include "api_broker/store/redact.hpp"
#include "api_broker/store/stored_row.hpp"
#include "bson_payload.hpp"
#include "mongo_support.hpp"
#include "notification_watcher.hpp"

namespace api_broker::store {
namespace {

using mongo::Bson;
using mongo::Document;

constexpr const char* default_database = "api_broker";
// The lock document's holder may keep it this long without committing; a holder that died
// on another machine is replaced after it, one of this machine at once.
constexpr std::chrono::milliseconds append_lock_ttl{10'000};
// An append waits this long for the lock before it gives up (Errc::unavailable).
constexpr std::chrono::milliseconds append_lock_wait_max{30'000};
// MongoDB 4.2: pipeline updates and $$NOW.
constexpr std::int32_t wire_version_min = 8;
constexpr int append_attempts_max = 4;

std::int64_t clamp_to_int64(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

void append_uuid(bson_t* document, const char* key, const Uuid& uuid) {
  bson_append_binary(document, key, -1, BSON_SUBTYPE_UUID, uuid.bytes.data(),
                     static_cast<std::uint32_t>(uuid.bytes.size()));
}

// Database names MongoDB accepts on every platform.
bool valid_database_name(std::string_view name) {
  return !name.empty() && name.size() < 64 &&
         name.find_first_of("/\\. \"$*<>:|?") == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// {key: {$literal: text}}: a string inside an aggregation expression is a field path when it
// starts with "$"; an owner is data, whatever it looks like.
void append_literal(bson_t* parent, const char* key, std::string_view text) {
  bson_t literal;
  bson_append_document_begin(parent, key, -1, &literal);
  bson_append_utf8(&literal, "$literal", -1, text.data(), static_cast<int>(text.size()));
  bson_append_document_end(parent, &literal);
}

// The pipeline that takes the lock document (or the lease) when `condition` holds and
// otherwise leaves it as it is: {$set: {field: {$cond: [condition, new, "$field"]}, ...}}.
void append_conditional_set(bson_t* pipeline, const bson_t* condition,
                            std::initializer_list<std::pair<const char*, const bson_t*>> fields,
                            const char* stage_key = "0") {
  bson_t stage, set;
  bson_append_document_begin(pipeline, stage_key, -1, &stage);
  bson_append_document_begin(&stage, "$set", -1, &set);
  for (const auto& [name, value] : fields) {
    bson_t field, cond;
    bson_append_document_begin(&set, name, -1, &field);
    bson_append_array_begin(&field, "$cond", -1, &cond);
    bson_append_document(&cond, "0", -1, condition);
    bson_iter_t iter;  // the new value: the single member "v" of `value`
    if (bson_iter_init_find(&iter, value, "v")) bson_append_iter(&cond, "1", -1, &iter);
    const std::string keep = std::string("$") + name;
    bson_append_utf8(&cond, "2", -1, keep.c_str(), -1);
    bson_append_array_end(&field, &cond);
    bson_append_document_end(&set, &field);
  }
  bson_append_document_end(&stage, &set);
  bson_append_document_end(pipeline, &stage);
}

// {$or: [{$eq: ["$owner", null]}, {$eq: ["$owner", <each of owners>]},
//        {$lte: ["$expires", "$$NOW"]}]}: free, held by one of `owners`, or expired by the
// server's clock (a document without `expires` counts as expired). Owners are data, never
// spliced into text.
Bson free_or_expired(std::initializer_list<std::string_view> owners) {
  Bson condition(bson_new());
  bson_t any, alternative, pair;
  bson_append_array_begin(condition.get(), "$or", -1, &any);
  int index = 0;
  auto compare_owner = [&](std::optional<std::string_view> owner) {
    bson_append_document_begin(&any, std::to_string(index++).c_str(), -1, &alternative);
    bson_append_array_begin(&alternative, "$eq", -1, &pair);
    bson_append_utf8(&pair, "0", -1, "$owner", -1);
    if (owner) {
      append_literal(&pair, "1", *owner);
    } else {
      bson_append_null(&pair, "1", -1);
    }
    bson_append_array_end(&alternative, &pair);
    bson_append_document_end(&any, &alternative);
  };
  compare_owner(std::nullopt);
  for (std::string_view owner : owners) {
    if (!owner.empty()) compare_owner(owner);
  }
  bson_append_document_begin(&any, std::to_string(index++).c_str(), -1, &alternative);
  bson_append_array_begin(&alternative, "$lte", -1, &pair);
  bson_append_utf8(&pair, "0", -1, "$expires", -1);
  bson_append_utf8(&pair, "1", -1, "$$NOW", -1);
  bson_append_array_end(&alternative, &pair);
  bson_append_document_end(&any, &alternative);
  bson_append_array_end(condition.get(), &any);
  return condition;
}

struct AppendLock {
  std::int64_t epoch = 0;
  std::int64_t last = 0;
};

class MongoStore final : public EventStore {
 public:
  MongoStore(mongo::Uri uri, mongo::Client client, std::string database, std::string target,
             bool durable)
      : uri_(std::move(uri)),
        client_(std::move(client)),
        database_name_(std::move(database)),
        target_(std::move(target)),
        owner_(process_owner_id()) {
    database_.reset(mongoc_client_get_database(client_.get(), database_name_.c_str()));
    events_.reset(mongoc_database_get_collection(database_.get(), "events"));
    meta_.reset(mongoc_database_get_collection(database_.get(), "api_broker"));
    notifications_.reset(mongoc_database_get_collection(database_.get(), "notifications"));
    checkpoints_.reset(mongoc_database_get_collection(database_.get(), "checkpoints"));
    leases_.reset(mongoc_database_get_collection(database_.get(), "leases"));
    write_concern_.reset(mongoc_write_concern_new());
    if (durable) {
      mongoc_write_concern_set_wmajority(write_concern_.get(), 0);
      mongoc_write_concern_set_journal(write_concern_.get(), true);
    } else {
      mongoc_write_concern_set_w(write_concern_.get(), 1);
      mongoc_write_concern_set_journal(write_concern_.get(), false);
    }
    // Notifications only wake followers: losing one costs a follower its next re-read.
    fast_concern_.reset(mongoc_write_concern_new());
    mongoc_write_concern_set_w(fast_concern_.get(), 1);
    for (mongoc_collection_t* collection :
         {events_.get(), meta_.get(), checkpoints_.get(), leases_.get()}) {
      mongoc_collection_set_write_concern(collection, write_concern_.get());
    }
    mongoc_collection_set_write_concern(notifications_.get(), fast_concern_.get());
  }

  ~MongoStore() override { (void)close(); }

  // Checks the server's version, then creates or checks the collections.
  Result<void> open_session() {
    Bson hello(BCON_NEW("hello", BCON_INT32(1)));
    Document reply;
    bson_error_t error;
    if (!mongoc_client_command_simple(client_.get(), "admin", hello.get(), nullptr, reply.get(),
                                      &error)) {
      return fail(Errc::unavailable, fmt::format("cannot connect to the mongodb event store at "
                                                 "{}: {}",
                                                 target_, mongo::one_line(error.message)));
    }
    const auto wire = mongo::int_field(reply.get(), "maxWireVersion").value_or(0);
    if (wire < wire_version_min) {
      return fail(Errc::unsupported,
                  fmt::format("the mongodb server at {} is too old (wire version {}); "
                              "api-broker needs MongoDB 4.2 or newer",
                              target_, wire));
    }
    return ensure_schema();
  }

  Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) override {
    return append_events(batch, nullptr);
  }

  Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                   const Fence& fence) override {
    return append_events(batch, &fence);
  }

  // A fenced append checks the lease while it holds the append lock, and commits only if it
  // still holds that lock: a lease changes hands only under the append lock (take_lease), so
  // no takeover can come between the check and the commit.
  Result<std::vector<EventId>> append_events(std::span<const NewEvent> batch, const Fence* fence) {
    std::vector<EventId> ids;
    if (batch.empty()) return ids;
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    // Encode and check first: nothing touches the database for a batch that cannot be stored.
    std::vector<Bson> payloads;
    payloads.reserve(batch.size());
    std::vector<Uuid> uuids;
    for (const NewEvent& event : batch) {
      const std::string payload = events::encode_payload(event.event);
      if (payload.size() > limits::payload_bytes_max) {
        return fail(Errc::invalid_input,
                    fmt::format("{} payload is larger than {} bytes",
                                events::class_name(event.event), limits::payload_bytes_max));
      }
      Bson holder(bson_new());
      if (auto ok = mongo::append_json_document(holder.get(), "payload", payload); !ok) {
        return fail(std::move(ok).error());
      }
      payloads.push_back(std::move(holder));
      if (event.external_uuid) uuids.push_back(*event.external_uuid);
    }
    if (auto once = refuse_uuid_twice(uuids, *this); !once) return fail(std::move(once).error());

    auto lock = acquire_append_lock();
    if (!lock) return fail(std::move(lock).error());
    if (fence != nullptr) {
      auto holder = read_lease(fence->lease);
      if (!holder || !holds(*holder, *fence)) {
        release_append_lock(*lock);
        return fail(holder ? lease_lost(*fence, *holder) : std::move(holder).error());
      }
    }
    const std::int64_t created_us = utc_now().time_since_epoch().count();
    for (int attempt = 0;; ++attempt) {
      auto inserted = insert_events(batch, payloads, *lock, created_us);
      if (inserted) break;
      Error error = std::move(inserted).error();
      // Our partial insert (and any writer's older leftovers) must not stay in the way.
      (void)remove_uncommitted(*lock);
      if (error.code == Errc::cancelled && attempt + 1 < append_attempts_max) continue;
      release_append_lock(*lock);
      if (error.code == Errc::cancelled) {
        return fail(Errc::unavailable,
                    fmt::format("mongodb append on {}: the ids kept colliding with the leftovers "
                                "of an expired writer; nothing was stored, retry",
                                target_));
      }
      return fail(std::move(error));
    }
    auto committed = commit(*lock, static_cast<std::int64_t>(batch.size()));
    if (!committed) return fail(std::move(committed).error());
    notify(lock->last + static_cast<std::int64_t>(batch.size()));
    ids.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      ids.push_back(EventId{static_cast<std::uint64_t>(lock->last) + 1 + i});
    }
    return ids;
  }

  Result<Envelope> get(EventId id) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    const std::uint64_t key = events::to_int(id);
    auto not_found = [&] {
      return fail(Errc::not_found, fmt::format("no event with id {}", key), key);
    };
    if (key == 0) return not_found();
    Bson filter(BCON_NEW("_id", BCON_INT64(clamp_to_int64(key))));
    auto found = mongo::find_one(events_.get(), filter.get(), nullptr, "get", target_);
    if (!found) return fail(std::move(found).error());
    if (!*found) return not_found();
    if (auto committed = is_committed(key); !committed) {
      return fail(std::move(committed).error());
    } else if (!*committed) {
      return not_found();
    }
    return decode(found->value().get());
  }

  Result<EventId> resolve(const Uuid& uuid) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    Bson filter(bson_new());
    append_uuid(filter.get(), "external_uuid", uuid);
    Bson opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}"));
    auto found = mongo::find_one(events_.get(), filter.get(), opts.get(), "resolve", target_);
    if (!found) return fail(std::move(found).error());
    auto not_found = [&] {
      return fail(Errc::not_found, "no event with external UUID " + events::to_string(uuid));
    };
    if (!*found) return not_found();
    const auto id = mongo::int_field(found->value().get(), "_id");
    if (!id || *id <= 0) {
      return fail(Errc::corrupt,
                  "the event with external UUID " + events::to_string(uuid) + " has no id");
    }
    if (auto committed = is_committed(static_cast<std::uint64_t>(*id)); !committed) {
      return fail(std::move(committed).error());
    } else if (!*committed) {
      return not_found();  // a leftover of a writer that never committed
    }
    return EventId{static_cast<std::uint64_t>(*id)};
  }

  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    std::vector<Envelope> envelopes;
    auto last = read_last();
    if (!last) return fail(std::move(last).error());
    const std::int64_t from = clamp_to_int64(events::to_int(after));
    if (*last <= from || limit == 0) return envelopes;
    Bson filter(BCON_NEW("_id", "{", "$gt", BCON_INT64(from), "$lte", BCON_INT64(*last), "}"));
    Bson opts(BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit",
                       BCON_INT64(clamp_to_int64(limit))));
    mongo::Cursor cursor(
        mongoc_collection_find_with_opts(events_.get(), filter.get(), opts.get(), nullptr));
    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) {
      auto envelope = decode(document);
      if (!envelope) {
        if (envelopes.empty()) return fail(std::move(envelope).error());
        return envelopes;  // the caller reads on and meets it first
      }
      envelopes.push_back(std::move(*envelope));
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) {
      return fail(mongo::error_of(error, "read", target_));
    }
    return envelopes;
  }

  Result<EventId> last_id() override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    auto last = read_last();
    if (!last) return fail(std::move(last).error());
    return EventId{static_cast<std::uint64_t>(*last)};
  }

  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override {
    if (auto usable = ready(); !usable) return usable;
    if (stop.stop_requested()) return {};
    // Started before the check below, so that a commit after the check is never missed:
    // the watcher's cursor reads every notification still in the capped collection.
    if (!watcher_) {
      watcher_ = std::make_unique<mongo::NotificationWatcher>(uri_.get(), database_name_, target_);
    }
    auto last = read_last();
    if (!last) return fail(std::move(last).error());
    const std::uint64_t position = events::to_int(after);
    if (static_cast<std::uint64_t>(*last) > position) return {};
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (watcher_->newest() <= position) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd fds[] = {{watcher_->fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
      const int ready_count =
          ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      if (ready_count < 0 && errno != EINTR) {
        return fail(Errc::unavailable, "poll failed while waiting for mongodb notifications");
      }
      if (fds[1].revents != 0 || stop.stop_requested()) return {};
      if (fds[0].revents != 0) watcher_->drain();
    }
    return {};
  }

  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    Bson filter(bson_new());
    BSON_APPEND_UTF8(filter.get(), "_id", std::string(name).c_str());
    auto found =
        mongo::find_one(checkpoints_.get(), filter.get(), nullptr, "load checkpoint", target_);
    if (!found) return fail(std::move(found).error());
    if (!*found) return std::optional<std::string>();
    const auto value = mongo::utf8_field(found->value().get(), "value");
    if (!value) {
      return fail(Errc::corrupt,
                  fmt::format("the mongodb checkpoint '{}' has no text value", name));
    }
    return std::optional<std::string>(std::string(*value));
  }

  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    if (auto usable = ready(); !usable) return usable;
    Bson filter(bson_new());
    bson_append_utf8(filter.get(), "_id", -1, name.data(), static_cast<int>(name.size()));
    Bson update(bson_new());
    bson_t set;
    bson_append_document_begin(update.get(), "$set", -1, &set);
    bson_append_utf8(&set, "value", -1, value.data(), static_cast<int>(value.size()));
    bson_append_document_end(update.get(), &set);
    Bson opts(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_error_t error;
    // Two first saves of one name may race on the upsert: the loser updates.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (mongoc_collection_update_one(checkpoints_.get(), filter.get(), update.get(), opts.get(),
                                       nullptr, &error)) {
        return {};
      }
      if (mongo::server_code(error) != mongo::duplicate_key_code) break;
    }
    return fail(mongo::error_of(error, "save checkpoint", target_));
  }

  // A renewal (held by `owner`) is one round trip. Anything else may change hands: that
  // happens under the append lock, so that fenced appends see it atomically.
  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override {
    if (auto usable = ready(); !usable) return fail(std::move(usable).error());
    auto renewed = renew_lease(name, owner, ttl);
    if (!renewed) return fail(std::move(renewed).error());
    if (*renewed) return std::move(**renewed);
    auto lock = acquire_append_lock();
    if (!lock) return fail(std::move(lock).error());
    auto taken = take_lease(name, owner, ttl);
    release_append_lock(*lock);
    return taken;
  }

  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    if (auto usable = ready(); !usable) return usable;
    Bson filter(bson_new());
    bson_append_utf8(filter.get(), "_id", -1, name.data(), static_cast<int>(name.size()));
    bson_append_utf8(filter.get(), "owner", -1, owner.data(), static_cast<int>(owner.size()));
    // Free, with its epoch kept: the next taker increments it.
    Bson update(BCON_NEW("$set", "{", "owner", BCON_NULL, "expires", BCON_DATE_TIME(0), "}"));
    bson_error_t error;
    if (!mongoc_collection_update_one(leases_.get(), filter.get(), update.get(), nullptr, nullptr,
                                      &error)) {
      return fail(mongo::error_of(error, "release lease", target_));
    }
    return {};
  }

  Result<void> close() override {
    watcher_.reset();
    leases_.reset();
    checkpoints_.reset();
    notifications_.reset();
    meta_.reset();
    events_.reset();
    database_.reset();
    client_.reset();  // the driver reports nothing: the server ends the session either way
    return {};
  }

 private:
  Result<void> ready() const {
    if (!client_) return fail(Errc::unavailable, "the mongodb event store is closed");
    return {};
  }

  bool write_command(mongoc_collection_t* collection, const bson_t* command, bson_t* reply,
                     bson_error_t* error) {
    Document opts;
    mongoc_write_concern_append(write_concern_.get(), opts.get());
    return mongoc_collection_write_command_with_opts(collection, command, opts.get(), reply, error);
  }

  // --- leases ---

  // The lease as stored: a free one (none yet, or released) has no owner.
  Result<LeaseHolder> read_lease(std::string_view name) {
    Bson filter(bson_new());
    bson_append_utf8(filter.get(), "_id", -1, name.data(), static_cast<int>(name.size()));
    auto found = mongo::find_one(leases_.get(), filter.get(), nullptr, "read lease", target_);
    if (!found) return fail(std::move(found).error());
    if (!*found) return LeaseHolder{};
    return lease_of(found->value().get(), name);
  }

  Result<LeaseHolder> lease_of(const bson_t* document, std::string_view name) const {
    const auto holder = mongo::utf8_field(document, "owner");
    const auto expires = mongo::date_field(document, "expires");
    const auto epoch = mongo::int_field(document, "epoch").value_or(0);
    if (!expires || epoch < 0) {
      return fail(Errc::corrupt,
                  fmt::format("the mongodb lease '{}' has no valid expiry or epoch", name));
    }
    return LeaseHolder{holder ? std::string(*holder) : std::string(),
                       TimePoint(std::chrono::milliseconds(*expires)),
                       static_cast<std::uint64_t>(epoch)};
  }

  // Extends the lease if `owner` holds it (expired or not): the holder, or nothing when
  // `owner` does not hold it.
  Result<std::optional<LeaseHolder>> renew_lease(std::string_view name, std::string_view owner,
                                                 std::chrono::milliseconds ttl) {
    Bson command(bson_new());
    BSON_APPEND_UTF8(command.get(), "findAndModify", "leases");
    bson_t query;
    bson_append_document_begin(command.get(), "query", -1, &query);
    bson_append_utf8(&query, "_id", -1, name.data(), static_cast<int>(name.size()));
    bson_append_utf8(&query, "owner", -1, owner.data(), static_cast<int>(owner.size()));
    bson_append_document_end(command.get(), &query);
    Bson update(BCON_NEW("0", "{", "$set", "{", "expires", "{", "$add", "[", "$$NOW",
                         BCON_INT64(ttl.count()), "]", "}", "}", "}"));
    BSON_APPEND_ARRAY(command.get(), "update", update.get());
    BSON_APPEND_BOOL(command.get(), "new", true);
    Document reply;
    bson_error_t error;
    if (!write_command(leases_.get(), command.get(), reply.get(), &error)) {
      return fail(mongo::error_of(error, "renew lease", target_));
    }
    bson_t value;
    if (!mongo::document_field(reply.get(), "value", &value)) {
      return std::optional<LeaseHolder>();
    }
    auto holder = lease_of(&value, name);
    if (!holder) return fail(std::move(holder).error());
    return std::optional<LeaseHolder>(std::move(*holder));
  }

  // Takes the lease when free, expired by the server's clock, or held by `owner`; taking it
  // from another or from nobody increments its epoch. REQUIRES: the append lock is held.
  Result<LeaseHolder> take_lease(std::string_view name, std::string_view owner,
                                 std::chrono::milliseconds ttl) {
    const Bson condition = free_or_expired({owner});
    // The epoch grows when the lease changes hands: evaluated before the owner is set.
    Bson changes_hands(bson_new());
    {
      bson_t all, mine, pair;
      bson_append_array_begin(changes_hands.get(), "$and", -1, &all);
      bson_append_document_begin(&all, "0", -1, &mine);
      bson_append_array_begin(&mine, "$ne", -1, &pair);
      bson_append_utf8(&pair, "0", -1, "$owner", -1);
      append_literal(&pair, "1", owner);
      bson_append_array_end(&mine, &pair);
      bson_append_document_end(&all, &mine);
      bson_append_document(&all, "1", -1, condition.get());
      bson_append_array_end(changes_hands.get(), &all);
    }
    Bson new_epoch(BCON_NEW("v", "{", "$add", "[", "{", "$ifNull", "[", "$epoch", BCON_INT64(0),
                            "]", "}", BCON_INT64(1), "]", "}"));
    Bson new_owner(bson_new());
    append_literal(new_owner.get(), "v", owner);
    Bson new_expiry(BCON_NEW("v", "{", "$add", "[", "$$NOW", BCON_INT64(ttl.count()), "]", "}"));
    for (int attempt = 0; attempt < 3; ++attempt) {
      Bson command(bson_new());
      BSON_APPEND_UTF8(command.get(), "findAndModify", "leases");
      bson_t query;
      bson_append_document_begin(command.get(), "query", -1, &query);
      bson_append_utf8(&query, "_id", -1, name.data(), static_cast<int>(name.size()));
      bson_append_document_end(command.get(), &query);
      bson_t pipeline;
      bson_append_array_begin(command.get(), "update", -1, &pipeline);
      append_conditional_set(&pipeline, changes_hands.get(), {{"epoch", new_epoch.get()}}, "0");
      append_conditional_set(&pipeline, condition.get(),
                             {{"owner", new_owner.get()}, {"expires", new_expiry.get()}}, "1");
      bson_append_array_end(command.get(), &pipeline);
      BSON_APPEND_BOOL(command.get(), "upsert", true);
      BSON_APPEND_BOOL(command.get(), "new", true);
      Document reply;
      bson_error_t error;
      if (!write_command(leases_.get(), command.get(), reply.get(), &error)) {
        // Two first takers race on the upsert: the loser asks again.
        if (mongo::server_code(error) == mongo::duplicate_key_code) continue;
        return fail(mongo::error_of(error, "acquire lease", target_));
      }
      bson_t value;
      if (!mongo::document_field(reply.get(), "value", &value)) continue;
      return lease_of(&value, name);
    }
    return fail(
        Errc::unavailable,
        fmt::format("the '{}' lease on mongodb {} kept changing hands; retry", name, target_));
  }

  // --- the layout ---

  Result<void> ensure_schema() {
    auto version = schema_version();
    if (!version) return fail(std::move(version).error());
    if (*version == 0) {
      if (auto created = create_schema(); !created) return created;
      version = schema_version();
      if (!version) return fail(std::move(version).error());
    }
    if (*version > mongo_schema_version) {
      return fail(Errc::unsupported,
                  fmt::format("mongodb database {} has layout version {}, newer than this "
                              "api-broker understands ({}); use a newer api-broker",
                              target_, *version, mongo_schema_version));
    }
    if (*version != mongo_schema_version) {
      return fail(Errc::unsupported,
                  fmt::format("mongodb database {} has an api_broker collection with layout "
                              "version {} that api-broker did not write",
                              target_, *version));
    }
    auto last = read_last();
    if (!last) return fail(std::move(last).error());
    return {};
  }

  // The stored layout version; 0 when the database has none yet.
  Result<std::int64_t> schema_version() {
    Bson filter(BCON_NEW("_id", BCON_UTF8("schema")));
    auto found = mongo::find_one(meta_.get(), filter.get(), nullptr, "layout check", target_);
    if (!found) return fail(std::move(found).error());
    if (!*found) return std::int64_t{0};
    const auto version = mongo::int_field(found->value().get(), "version");
    if (!version || *version <= 0) {
      return fail(Errc::unsupported,
                  fmt::format("mongodb database {} has an api_broker collection that api-broker "
                              "did not write (no layout version)",
                              target_));
    }
    return *version;
  }

  // Every step may run in several processes at once and again after a crash: each one is
  // idempotent, and the schema document, written last, says the layout is complete.
  Result<void> create_schema() {
    // A log written by something else (the prototype's) is refused, not mixed with.
    Bson everything(bson_new());
    auto stored =
        mongo::find_one(events_.get(), everything.get(), nullptr, "layout check", target_);
    if (!stored) return fail(std::move(stored).error());
    if (*stored) {
      auto version = schema_version();  // a concurrent first opener may have just finished
      if (!version) return fail(std::move(version).error());
      if (*version == 0) {
        return fail(Errc::unsupported,
                    fmt::format("mongodb database {} has an events collection that api-broker "
                                "did not create; use another database",
                                target_));
      }
      return {};
    }
    // An existing notifications collection must be capped (tailable).
    Bson named(BCON_NEW("filter", "{", "name", BCON_UTF8("notifications"), "}"));
    mongo::Cursor collections(
        mongoc_database_find_collections_with_opts(database_.get(), named.get()));
    const bson_t* info = nullptr;
    bool exists = false;
    while (mongoc_cursor_next(collections.get(), &info)) {
      exists = true;
      bson_t options;
      bson_iter_t capped;
      if (!mongo::document_field(info, "options", &options) ||
          !bson_iter_init_find(&capped, &options, "capped") || !bson_iter_as_bool(&capped)) {
        return fail(Errc::unsupported,
                    fmt::format("mongodb database {} has a notifications collection that is not "
                                "capped (api-broker did not create it); use another database",
                                target_));
      }
    }
    bson_error_t error;
    if (mongoc_cursor_error(collections.get(), &error)) {
      return fail(mongo::error_of(error, "layout check", target_));
    }
    if (!exists) {
      if (auto prepared = mongo::prepare_notifications(database_.get(), target_); !prepared) {
        return prepared;
      }
    }
    Bson index(BCON_NEW("createIndexes", BCON_UTF8("events"), "indexes", "[", "{", "key", "{",
                        "external_uuid", BCON_INT32(1), "}", "name",
                        BCON_UTF8("external_uuid_unique"), "unique", BCON_BOOL(true),
                        "partialFilterExpression", "{", "external_uuid", "{", "$exists",
                        BCON_BOOL(true), "}", "}", "}", "]"));
    Document reply;
    Document opts;
    mongoc_write_concern_append(write_concern_.get(), opts.get());
    if (!mongoc_database_write_command_with_opts(database_.get(), index.get(), opts.get(),
                                                 reply.get(), &error)) {
      constexpr std::uint32_t index_options_conflict = 85, index_key_specs_conflict = 86;
      const auto code = mongo::server_code(error);
      if (code == index_options_conflict || code == index_key_specs_conflict) {
        return fail(Errc::unsupported,
                    fmt::format("mongodb database {} has an index external_uuid_unique that "
                                "api-broker did not create: {}",
                                target_, mongo::one_line(error.message)));
      }
      return fail(mongo::error_of(error, "create index", target_));
    }
    // The committed end of the log and the append lock.
    Bson head_filter(BCON_NEW("_id", BCON_UTF8("events")));
    Bson head(BCON_NEW("$setOnInsert", "{", "last", BCON_INT64(0), "epoch", BCON_INT64(0), "owner",
                       BCON_NULL, "expires", BCON_DATE_TIME(0), "}"));
    if (auto ok = upsert_once(head_filter.get(), head.get()); !ok) return ok;
    Bson schema_filter(BCON_NEW("_id", BCON_UTF8("schema")));
    Bson schema(BCON_NEW("$setOnInsert", "{", "version", BCON_INT32(mongo_schema_version), "}"));
    return upsert_once(schema_filter.get(), schema.get());
  }

  // An insert-if-missing into api_broker; a concurrent opener's insert wins just as well.
  Result<void> upsert_once(const bson_t* filter, const bson_t* update) {
    Bson opts(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_error_t error;
    if (!mongoc_collection_update_one(meta_.get(), filter, update, opts.get(), nullptr, &error) &&
        mongo::server_code(error) != mongo::duplicate_key_code) {
      return fail(mongo::error_of(error, "layout creation", target_));
    }
    return {};
  }

  // --- the committed end of the log ---

  Result<std::int64_t> read_last() {
    Bson filter(BCON_NEW("_id", BCON_UTF8("events")));
    Bson opts(BCON_NEW("projection", "{", "last", BCON_INT32(1), "}"));
    auto found = mongo::find_one(meta_.get(), filter.get(), opts.get(), "read", target_);
    if (!found) return fail(std::move(found).error());
    if (!*found) {
      // Never re-created silently: a head at 0 would hide the log and let appends remove it.
      return fail(Errc::corrupt,
                  fmt::format("mongodb database {}: the document {{_id: \"events\"}} of the "
                              "api_broker collection is missing; restore it with `last` set to "
                              "the largest event id",
                              target_));
    }
    const auto last = mongo::int_field(found->value().get(), "last");
    if (!last || *last < 0) {
      return fail(Errc::corrupt,
                  fmt::format("mongodb database {}: the api_broker events document has no valid "
                              "`last`",
                              target_));
    }
    known_last_ = std::max(known_last_, *last);
    return *last;
  }

  // Whether the event `id` was committed (not the leftover of a writer that died or lost
  // the lock before its commit).
  Result<bool> is_committed(std::uint64_t id) {
    if (static_cast<std::int64_t>(std::min<std::uint64_t>(id, INT64_MAX)) <= known_last_) {
      return true;
    }
    auto last = read_last();
    if (!last) return fail(std::move(last).error());
    return clamp_to_int64(id) <= *last;
  }

  // --- appends ---

  // Takes the lock document: when it is free, held by this store (a call that failed before
  // releasing it), expired by the server's clock, or held by a process of this machine that
  // has exited. Each taking increments `epoch`, which fences out a holder whose lock expired.
  Result<AppendLock> acquire_append_lock() {
    using namespace std::chrono_literals;
    const auto until = std::chrono::steady_clock::now() + append_lock_wait_max;
    std::string gone;  // a holder seen to have exited
    auto pause = 1ms;
    std::minstd_rand random(std::random_device{}());
    std::string holder;
    while (true) {
      Bson command(bson_new());
      BSON_APPEND_UTF8(command.get(), "findAndModify", "api_broker");
      bson_t query;
      bson_append_document_begin(command.get(), "query", -1, &query);
      BSON_APPEND_UTF8(&query, "_id", "events");
      bson_append_document_end(command.get(), &query);
      const Bson condition = free_or_expired({owner_, gone});
      Bson new_owner(bson_new());
      append_literal(new_owner.get(), "v", owner_);
      Bson new_epoch(BCON_NEW("v", "{", "$add", "[", "$epoch", BCON_INT64(1), "]", "}"));
      Bson new_expiry(
          BCON_NEW("v", "{", "$add", "[", "$$NOW", BCON_INT64(append_lock_ttl.count()), "]", "}"));
      bson_t pipeline;
      bson_append_array_begin(command.get(), "update", -1, &pipeline);
      append_conditional_set(
          &pipeline, condition.get(),
          {{"owner", new_owner.get()}, {"epoch", new_epoch.get()}, {"expires", new_expiry.get()}});
      bson_append_array_end(command.get(), &pipeline);
      BSON_APPEND_BOOL(command.get(), "new", true);
      Document reply;
      bson_error_t error;
      if (!write_command(meta_.get(), command.get(), reply.get(), &error)) {
        return fail(mongo::error_of(error, "append", target_, "; nothing was stored"));
      }
      bson_t value;
      if (!mongo::document_field(reply.get(), "value", &value)) {
        return fail(Errc::corrupt,
                    fmt::format("mongodb database {}: the document {{_id: \"events\"}} of the "
                                "api_broker collection is missing; restore it with `last` set to "
                                "the largest event id",
                                target_));
      }
      const auto owner = mongo::utf8_field(&value, "owner");
      const auto epoch = mongo::int_field(&value, "epoch");
      const auto last = mongo::int_field(&value, "last");
      if (!epoch || !last || *last < 0) {
        return fail(Errc::corrupt, fmt::format("mongodb database {}: the api_broker events "
                                               "document has no valid `last` or `epoch`",
                                               target_));
      }
      if (owner && *owner == owner_) {
        known_last_ = std::max(known_last_, *last);
        return AppendLock{*epoch, *last};
      }
      holder = owner ? std::string(*owner) : "?";
      if (owner && gone != *owner && process_owner_is_gone(*owner)) {
        gone = std::string(*owner);
        continue;  // take it over at once
      }
      if (std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(pause / 2 + pause * static_cast<int>(random() % 100) / 200);
      pause = std::min(pause * 2, std::chrono::milliseconds(32));
    }
    return fail(Errc::unavailable,
                fmt::format("the mongodb event store {} is locked by another writer ({}) for "
                            "{} s; nothing was stored",
                            target_, holder, append_lock_wait_max.count() / 1000));
  }

  // Inserts the batch with the ids after lock.last, in order. Errc::cancelled when an id or
  // an external UUID collided with an uncommitted leftover (remove them, try again);
  // Errc::duplicate when an external UUID is stored in a committed event.
  Result<void> insert_events(std::span<const NewEvent> batch, const std::vector<Bson>& payloads,
                             const AppendLock& lock, std::int64_t created_us) {
    std::vector<Bson> documents;
    documents.reserve(batch.size());
    std::vector<const bson_t*> pointers;
    pointers.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const NewEvent& event = batch[i];
      Bson document(bson_new());
      BSON_APPEND_INT64(document.get(), "_id", lock.last + 1 + static_cast<std::int64_t>(i));
      BSON_APPEND_DATE_TIME(document.get(), "created", created_us / 1000);
      BSON_APPEND_INT64(document.get(), "created_us", created_us);
      BSON_APPEND_INT64(document.get(), "causation_id",
                        clamp_to_int64(events::to_int(event.causation_id)));
      if (event.external_uuid) append_uuid(document.get(), "external_uuid", *event.external_uuid);
      const std::string_view name = events::class_name(event.event);
      bson_append_utf8(document.get(), "class", -1, name.data(), static_cast<int>(name.size()));
      bson_iter_t payload;
      bson_iter_init_find(&payload, payloads[i].get(), "payload");
      bson_append_iter(document.get(), "payload", -1, &payload);
      BSON_APPEND_INT64(document.get(), "lock_epoch", lock.epoch);
      pointers.push_back(document.get());
      documents.push_back(std::move(document));
    }
    Bson opts(BCON_NEW("ordered", BCON_BOOL(true)));
    Document reply;
    bson_error_t error;
    if (mongoc_collection_insert_many(events_.get(), pointers.data(), pointers.size(), opts.get(),
                                      reply.get(), &error)) {
      return {};
    }
    if (mongo::server_code(error) != mongo::duplicate_key_code) {
      return fail(mongo::error_of(error, "append", target_, "; nothing was stored"));
    }
    // Which document, and on which index: the first write error says.
    std::size_t index = 0;
    std::string message = error.message;
    bson_iter_t errors, first;
    if (bson_iter_init_find(&errors, reply.get(), "writeErrors") &&
        bson_iter_recurse(&errors, &first) && bson_iter_next(&first) &&
        BSON_ITER_HOLDS_DOCUMENT(&first)) {
      std::uint32_t length = 0;
      const std::uint8_t* data = nullptr;
      bson_iter_document(&first, &length, &data);
      bson_t write_error;
      if (bson_init_static(&write_error, data, length)) {
        index = static_cast<std::size_t>(
            std::max<std::int64_t>(0, mongo::int_field(&write_error, "index").value_or(0)));
        if (auto text = mongo::utf8_field(&write_error, "errmsg")) message = *text;
        bson_t pattern;
        if (mongo::document_field(&write_error, "keyPattern", &pattern)) {
          bson_iter_t key;
          if (bson_iter_init_find(&key, &pattern, "external_uuid")) {
            message = "index: external_uuid_unique";
          }
        }
      }
    }
    if (index >= batch.size() || !batch[index].external_uuid ||
        message.find("external_uuid") == std::string::npos) {
      return fail(Errc::cancelled, "an id was taken by an uncommitted leftover");
    }
    const Uuid& uuid = *batch[index].external_uuid;
    Bson filter(bson_new());
    append_uuid(filter.get(), "external_uuid", uuid);
    auto found = mongo::find_one(events_.get(), filter.get(), nullptr, "append", target_);
    if (!found) return fail(std::move(found).error());
    const auto id = *found ? mongo::int_field(found->value().get(), "_id") : std::nullopt;
    if (!id || *id > lock.last) {
      return fail(Errc::cancelled, "an external UUID was taken by an uncommitted leftover");
    }
    return fail(Errc::duplicate, "duplicate event identifier " + events::to_string(uuid),
                static_cast<std::uint64_t>(*id));
  }

  // Removes the events after lock.last written under this lock or an older one: a partial
  // batch, the leftovers of writers that died or lost the lock. A newer holder's events (a
  // larger epoch) are kept: if this store has lost the lock, they may be committed.
  Result<void> remove_uncommitted(const AppendLock& lock) {
    Bson filter(BCON_NEW("_id", "{", "$gt", BCON_INT64(lock.last), "}", "lock_epoch", "{", "$lte",
                         BCON_INT64(lock.epoch), "}"));
    bson_error_t error;
    if (!mongoc_collection_delete_many(events_.get(), filter.get(), nullptr, nullptr, &error)) {
      return fail(mongo::error_of(error, "append cleanup", target_));
    }
    return {};
  }

  void release_append_lock(const AppendLock& lock) {
    Bson filter(BCON_NEW("_id", BCON_UTF8("events"), "epoch", BCON_INT64(lock.epoch)));
    bson_append_utf8(filter.get(), "owner", -1, owner_.data(), static_cast<int>(owner_.size()));
    Bson update(BCON_NEW("$set", "{", "owner", BCON_NULL, "}"));
    (void)mongoc_collection_update_one(meta_.get(), filter.get(), update.get(), nullptr, nullptr,
                                       nullptr);
  }

  // Moves `last` past the batch and frees the lock in one update, if this store still holds
  // the lock: the batch becomes visible to every reader at once.
  Result<void> commit(const AppendLock& lock, std::int64_t count) {
    Bson command(bson_new());
    BSON_APPEND_UTF8(command.get(), "findAndModify", "api_broker");
    bson_t query;
    bson_append_document_begin(command.get(), "query", -1, &query);
    BSON_APPEND_UTF8(&query, "_id", "events");
    BSON_APPEND_INT64(&query, "epoch", lock.epoch);
    bson_append_utf8(&query, "owner", -1, owner_.data(), static_cast<int>(owner_.size()));
    BSON_APPEND_INT64(&query, "last", lock.last);
    bson_append_document_end(command.get(), &query);
    Bson update(
        BCON_NEW("$set", "{", "last", BCON_INT64(lock.last + count), "owner", BCON_NULL, "}"));
    BSON_APPEND_DOCUMENT(command.get(), "update", update.get());
    BSON_APPEND_BOOL(command.get(), "new", true);
    BSON_APPEND_DOCUMENT(command.get(), "fields", Bson(BCON_NEW("last", BCON_INT32(1))).get());
    Document reply;
    bson_error_t error;
    if (!write_command(meta_.get(), command.get(), reply.get(), &error)) {
      return fail(mongo::error_of(error, "append commit", target_,
                                  " (the events may or may not be stored)"));
    }
    bson_t value;
    if (!mongo::document_field(reply.get(), "value", &value)) {
      (void)remove_uncommitted(lock);
      return fail(Errc::unavailable,
                  fmt::format("mongodb append on {}: the append lock expired before the commit "
                              "(held over {} s); nothing was stored, retry",
                              target_, append_lock_ttl.count() / 1000));
    }
    known_last_ = std::max(known_last_, lock.last + count);
    return {};
  }

  void notify(std::int64_t last) {
    Bson notification(BCON_NEW("last", BCON_INT64(last)));
    // Best effort: without it, followers see the events at their next re-read.
    (void)mongoc_collection_insert_one(notifications_.get(), notification.get(), nullptr, nullptr,
                                       nullptr);
  }

  // --- reading ---

  Result<Envelope> decode(const bson_t* document) const {
    const auto id = mongo::int_field(document, "_id");
    if (!id || *id <= 0) return fail(Errc::corrupt, "mongodb returned an event without an id");
    const auto key = static_cast<std::uint64_t>(*id);
    auto corrupt = [&](std::string_view why) {
      return fail(Errc::corrupt, fmt::format("event {} is corrupt: {}", key, why), key);
    };
    std::optional<std::int64_t> created = mongo::int_field(document, "created_us");
    if (!created) {
      if (const auto ms = mongo::date_field(document, "created")) created = *ms * 1000;
    }
    const auto causation = mongo::int_field(document, "causation_id").value_or(0);
    if (!created || causation < 0) return corrupt("bad created or causation_id");
    const auto class_tag = mongo::utf8_field(document, "class");
    if (!class_tag) return corrupt("no class");
    bson_t payload;
    if (!mongo::document_field(document, "payload", &payload)) {
      return corrupt("the payload is not a document");
    }
    auto json = mongo::document_to_json(&payload);
    if (!json) return corrupt(json.error().message);
    std::string uuid_text;
    bson_iter_t uuid;
    if (bson_iter_init_find(&uuid, document, "external_uuid") && !BSON_ITER_HOLDS_NULL(&uuid)) {
      bson_subtype_t subtype{};
      std::uint32_t length = 0;
      const std::uint8_t* bytes = nullptr;
      if (!BSON_ITER_HOLDS_BINARY(&uuid)) return corrupt("external_uuid is not a binary UUID");
      bson_iter_binary(&uuid, &subtype, &length, &bytes);
      Uuid value;
      if (subtype != BSON_SUBTYPE_UUID || length != value.bytes.size()) {
        return corrupt("external_uuid is not a binary UUID (subtype 4, 16 bytes)");
      }
      std::copy(bytes, bytes + length, value.bytes.begin());
      uuid_text = events::to_string(value);
    }
    StoredRow row{.id = key,
                  .created_us = *created,
                  .causation_id = static_cast<std::uint64_t>(causation),
                  .external_uuid = std::nullopt,
                  .class_tag = *class_tag,
                  .payload = *json};
    if (!uuid_text.empty()) row.external_uuid = uuid_text;
    return decode_stored_row(row);
  }

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

}  // namespace

Result<std::unique_ptr<EventStore>> open_mongo_store(const MongoOptions& options) {
  mongo::ensure_driver();
  std::string text = options.url;
  if (text.empty()) {
    const std::string host = options.host.empty() ? "localhost" : options.host;
    const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    text = fmt::format("mongodb://{}{}{}:{}/", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                       options.port.empty() ? "27017" : options.port);
  }
  bson_error_t error;
  mongo::Uri uri(mongoc_uri_new_with_error(text.c_str(), &error));
  if (!uri) {
    return fail(Errc::invalid_input,
                fmt::format("invalid mongodb connection string '{}': {}", redact_password(text),
                            mongo::one_line(error.message)));
  }
  if (!options.user.empty()) mongoc_uri_set_username(uri.get(), options.user.c_str());
  if (!options.password.empty()) mongoc_uri_set_password(uri.get(), options.password.c_str());
  const auto timeout_ms = static_cast<std::int32_t>(
      std::clamp<std::int64_t>(options.connect_timeout.count(), 1, 3600) * 1000);
  for (const char* option : {MONGOC_URI_CONNECTTIMEOUTMS, MONGOC_URI_SERVERSELECTIONTIMEOUTMS}) {
    if (!mongoc_uri_has_option(uri.get(), option)) {
      mongoc_uri_set_option_as_int32(uri.get(), option, timeout_ms);
    }
  }
  // A server that vanished (a cut network) is noticed within a minute, not the driver's 5.
  if (!mongoc_uri_has_option(uri.get(), MONGOC_URI_SOCKETTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_SOCKETTIMEOUTMS, 60'000);
  }
  if (!mongoc_uri_has_option(uri.get(), MONGOC_URI_APPNAME)) {
    mongoc_uri_set_appname(uri.get(), options.application_name.c_str());
  }
  std::string database = options.database;
  if (database.empty() && mongoc_uri_get_database(uri.get()) != nullptr) {
    database = mongoc_uri_get_database(uri.get());
  }
  if (database.empty()) database = default_database;
  if (!valid_database_name(database)) {
    return fail(Errc::invalid_input,
                fmt::format("invalid mongodb database name '{}' (1 to 63 characters, none of "
                            "/\\. \"$*<>:|?)",
                            database));
  }
  const mongoc_host_list_t* hosts = mongoc_uri_get_hosts(uri.get());
  const std::string target = fmt::format(
      "{}/{}", hosts != nullptr ? hosts->host_and_port : mongoc_uri_get_string(uri.get()),
      database);
  mongo::Client client(mongoc_client_new_from_uri_with_error(uri.get(), &error));
  if (!client) {
    return fail(Errc::invalid_input,
                fmt::format("invalid mongodb connection string '{}': {}", redact_password(text),
                            mongo::one_line(error.message)));
  }
  mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  auto store = std::make_unique<MongoStore>(std::move(uri), std::move(client), database, target,
                                            options.durable);
  if (auto ok = store->open_session(); !ok) return fail(std::move(ok).error());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace api_broker::store
