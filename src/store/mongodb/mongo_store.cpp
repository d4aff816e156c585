// The MongoDB store: opening, reads and checkpoints. Appends, the layout, following and
// leases have files of their own (mongo_store_impl.hpp lists them).
#include "api_broker/store/mongo_store.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/process_owner.hpp"  // process_owner_id
#include "api_broker/store/redact.hpp"
#include "api_broker/store/stored_row.hpp"
#include "mongo_store_impl.hpp"

namespace api_broker::store::mongo {

MongoStore::MongoStore(mongo::Uri uri, mongo::Client client, std::string database,
                       std::string target, bool durable)
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

Result<void> MongoStore::open_session() {
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

Result<Envelope> MongoStore::get(EventId id) {
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

Result<EventId> MongoStore::resolve(const Uuid& uuid) {
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

Result<std::vector<Envelope>> MongoStore::read_after(EventId after, std::size_t limit) {
  if (auto usable = ready(); !usable) return fail(std::move(usable).error());
  std::vector<Envelope> envelopes;
  auto last = read_last();
  if (!last) return fail(std::move(last).error());
  const std::int64_t from = clamp_to_int64(events::to_int(after));
  if (*last <= from || limit == 0) return envelopes;
  Bson filter(BCON_NEW("_id", "{", "$gt", BCON_INT64(from), "$lte", BCON_INT64(*last), "}"));
  Bson opts(
      BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(clamp_to_int64(limit))));
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

Result<EventId> MongoStore::last_id() {
  if (auto usable = ready(); !usable) return fail(std::move(usable).error());
  auto last = read_last();
  if (!last) return fail(std::move(last).error());
  return EventId{static_cast<std::uint64_t>(*last)};
}

Result<std::optional<std::string>> MongoStore::load_checkpoint(std::string_view name) {
  if (auto usable = ready(); !usable) return fail(std::move(usable).error());
  Bson filter(bson_new());
  BSON_APPEND_UTF8(filter.get(), "_id", std::string(name).c_str());
  auto found =
      mongo::find_one(checkpoints_.get(), filter.get(), nullptr, "load checkpoint", target_);
  if (!found) return fail(std::move(found).error());
  if (!*found) return std::optional<std::string>();
  const auto value = mongo::utf8_field(found->value().get(), "value");
  if (!value) {
    return fail(Errc::corrupt, fmt::format("the mongodb checkpoint '{}' has no text value", name));
  }
  return std::optional<std::string>(std::string(*value));
}

Result<void> MongoStore::save_checkpoint(std::string_view name, std::string_view value) {
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

Result<void> MongoStore::close() {
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

Result<void> MongoStore::ready() const {
  if (!client_) return fail(Errc::unavailable, "the mongodb event store is closed");
  return {};
}

bool MongoStore::write_command(mongoc_collection_t* collection, const bson_t* command,
                               bson_t* reply, bson_error_t* error) {
  Document opts;
  mongoc_write_concern_append(write_concern_.get(), opts.get());
  return mongoc_collection_write_command_with_opts(collection, command, opts.get(), reply, error);
}

Result<Envelope> MongoStore::decode(const bson_t* document) const {
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

}  // namespace api_broker::store::mongo

namespace api_broker::store {
namespace {

using mongo::MongoStore;

constexpr const char* default_database = "api_broker";

// Database names MongoDB accepts on every platform.
bool valid_database_name(std::string_view name) {
  return !name.empty() && name.size() < 64 &&
         name.find_first_of("/\\. \"$*<>:|?") == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

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
