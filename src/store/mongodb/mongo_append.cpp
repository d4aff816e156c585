// The MongoDB store's appends: the lock document, the inserts under it, and the commit that
// makes a batch visible at once.
#include "mongo_store_impl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/process_owner.hpp"

namespace api_broker::store::mongo {

Result<std::vector<EventId>> MongoStore::append_batch(std::span<const NewEvent> batch) {
  return append_events(batch, nullptr);
}

Result<std::vector<EventId>> MongoStore::append_batch_fenced(std::span<const NewEvent> batch,
                                                             const Fence& fence) {
  return append_events(batch, &fence);
}

Result<std::vector<EventId>> MongoStore::append_events(std::span<const NewEvent> batch,
                                                       const Fence* fence) {
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
                  fmt::format("{} payload is larger than {} bytes", events::class_name(event.event),
                              limits::payload_bytes_max));
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
    if (error.code == Errc::cancelled && attempt + 1 < limits::mongodb_append_attempts_max)
      continue;
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

Result<std::int64_t> MongoStore::read_last() {
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

Result<bool> MongoStore::is_committed(std::uint64_t id) {
  if (static_cast<std::int64_t>(std::min<std::uint64_t>(id, INT64_MAX)) <= known_last_) {
    return true;
  }
  auto last = read_last();
  if (!last) return fail(std::move(last).error());
  return clamp_to_int64(id) <= *last;
}

Result<AppendLock> MongoStore::acquire_append_lock() {
  using namespace std::chrono_literals;
  const auto until = std::chrono::steady_clock::now() + limits::mongodb_append_lock_wait_max;
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
                          target_, holder, limits::mongodb_append_lock_wait_max.count() / 1000));
}

Result<void> MongoStore::insert_events(std::span<const NewEvent> batch,
                                       const std::vector<Bson>& payloads, const AppendLock& lock,
                                       std::int64_t created_us) {
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
  return explain_duplicate_key(batch, lock, reply.get(), error);
}

Result<void> MongoStore::explain_duplicate_key(std::span<const NewEvent> batch,
                                               const AppendLock& lock, const bson_t* reply,
                                               const bson_error_t& error) {
  // Which document, and on which index: the first write error says.
  std::size_t index = 0;
  std::string message = error.message;
  bson_iter_t errors, first;
  if (bson_iter_init_find(&errors, reply, "writeErrors") && bson_iter_recurse(&errors, &first) &&
      bson_iter_next(&first) && BSON_ITER_HOLDS_DOCUMENT(&first)) {
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

Result<void> MongoStore::remove_uncommitted(const AppendLock& lock) {
  Bson filter(BCON_NEW("_id", "{", "$gt", BCON_INT64(lock.last), "}", "lock_epoch", "{", "$lte",
                       BCON_INT64(lock.epoch), "}"));
  bson_error_t error;
  if (!mongoc_collection_delete_many(events_.get(), filter.get(), nullptr, nullptr, &error)) {
    return fail(mongo::error_of(error, "append cleanup", target_));
  }
  return {};
}

void MongoStore::release_append_lock(const AppendLock& lock) {
  Bson filter(BCON_NEW("_id", BCON_UTF8("events"), "epoch", BCON_INT64(lock.epoch)));
  bson_append_utf8(filter.get(), "owner", -1, owner_.data(), static_cast<int>(owner_.size()));
  Bson update(BCON_NEW("$set", "{", "owner", BCON_NULL, "}"));
  (void)mongoc_collection_update_one(meta_.get(), filter.get(), update.get(), nullptr, nullptr,
                                     nullptr);
}

Result<void> MongoStore::commit(const AppendLock& lock, std::int64_t count) {
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
    return fail(
        mongo::error_of(error, "append commit", target_, " (the events may or may not be stored)"));
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

void MongoStore::notify(std::int64_t last) {
  Bson notification(BCON_NEW("last", BCON_INT64(last)));
  // Best effort: without it, followers see the events at their next re-read.
  (void)mongoc_collection_insert_one(notifications_.get(), notification.get(), nullptr, nullptr,
                                     nullptr);
}

}  // namespace api_broker::store::mongo
