// The MongoDB store's leases: renewed in one round trip, changing hands under the append lock.
#include "mongo_store_impl.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace api_broker::store::mongo {

Result<LeaseHolder> MongoStore::acquire_lease(std::string_view name, std::string_view owner,
                                              std::chrono::milliseconds ttl) {
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

Result<void> MongoStore::release_lease(std::string_view name, std::string_view owner) {
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

Result<LeaseHolder> MongoStore::read_lease(std::string_view name) {
  Bson filter(bson_new());
  bson_append_utf8(filter.get(), "_id", -1, name.data(), static_cast<int>(name.size()));
  auto found = mongo::find_one(leases_.get(), filter.get(), nullptr, "read lease", target_);
  if (!found) return fail(std::move(found).error());
  if (!*found) return LeaseHolder{};
  return lease_of(found->value().get(), name);
}

Result<LeaseHolder> MongoStore::lease_of(const bson_t* document, std::string_view name) const {
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

Result<std::optional<LeaseHolder>> MongoStore::renew_lease(std::string_view name,
                                                           std::string_view owner,
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

Result<LeaseHolder> MongoStore::take_lease(std::string_view name, std::string_view owner,
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
  Bson new_epoch(BCON_NEW("v", "{", "$add", "[", "{", "$ifNull", "[", "$epoch", BCON_INT64(0), "]",
                          "}", BCON_INT64(1), "]", "}"));
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

}  // namespace api_broker::store::mongo
