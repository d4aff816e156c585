// The MongoDB store's collections: created by the first opener, checked by every opener.
#include "mongo_store_impl.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace api_broker::store::mongo {

Result<void> MongoStore::ensure_schema() {
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

Result<std::int64_t> MongoStore::schema_version() {
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

Result<void> MongoStore::create_schema() {
  // A log written by something else (the prototype's) is refused, not mixed with.
  Bson everything(bson_new());
  auto stored = mongo::find_one(events_.get(), everything.get(), nullptr, "layout check", target_);
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
  if (auto notifications = check_notifications(); !notifications) return notifications;
  if (auto index = create_uuid_index(); !index) return index;
  // The committed end of the log and the append lock.
  Bson head_filter(BCON_NEW("_id", BCON_UTF8("events")));
  Bson head(BCON_NEW("$setOnInsert", "{", "last", BCON_INT64(0), "epoch", BCON_INT64(0), "owner",
                     BCON_NULL, "expires", BCON_DATE_TIME(0), "}"));
  if (auto ok = upsert_once(head_filter.get(), head.get()); !ok) return ok;
  Bson schema_filter(BCON_NEW("_id", BCON_UTF8("schema")));
  Bson schema(BCON_NEW("$setOnInsert", "{", "version", BCON_INT32(mongo_schema_version), "}"));
  return upsert_once(schema_filter.get(), schema.get());
}

Result<void> MongoStore::upsert_once(const bson_t* filter, const bson_t* update) {
  Bson opts(BCON_NEW("upsert", BCON_BOOL(true)));
  bson_error_t error;
  if (!mongoc_collection_update_one(meta_.get(), filter, update, opts.get(), nullptr, &error) &&
      mongo::server_code(error) != mongo::duplicate_key_code) {
    return fail(mongo::error_of(error, "layout creation", target_));
  }
  return {};
}

Result<void> MongoStore::check_notifications() {
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
  return {};
}

Result<void> MongoStore::create_uuid_index() {
  bson_error_t error;
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
  return {};
}

}  // namespace api_broker::store::mongo
