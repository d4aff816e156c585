#pragma once
// libmongoc / libbson helpers for the MongoDB store: owners of the C handles, errors as one
// line with an Errc, typed reads of document fields, and the driver's process-wide setup.

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::store::mongo {

struct UriCloser {
  void operator()(mongoc_uri_t* uri) const noexcept { mongoc_uri_destroy(uri); }
};
using Uri = std::unique_ptr<mongoc_uri_t, UriCloser>;

struct ClientCloser {
  void operator()(mongoc_client_t* client) const noexcept { mongoc_client_destroy(client); }
};
using Client = std::unique_ptr<mongoc_client_t, ClientCloser>;

struct CollectionCloser {
  void operator()(mongoc_collection_t* collection) const noexcept {
    mongoc_collection_destroy(collection);
  }
};
using Collection = std::unique_ptr<mongoc_collection_t, CollectionCloser>;

struct DatabaseCloser {
  void operator()(mongoc_database_t* database) const noexcept { mongoc_database_destroy(database); }
};
using Database = std::unique_ptr<mongoc_database_t, DatabaseCloser>;

struct CursorCloser {
  void operator()(mongoc_cursor_t* cursor) const noexcept { mongoc_cursor_destroy(cursor); }
};
using Cursor = std::unique_ptr<mongoc_cursor_t, CursorCloser>;

struct WriteConcernCloser {
  void operator()(mongoc_write_concern_t* concern) const noexcept {
    mongoc_write_concern_destroy(concern);
  }
};
using WriteConcern = std::unique_ptr<mongoc_write_concern_t, WriteConcernCloser>;

struct BsonCloser {
  void operator()(bson_t* document) const noexcept { bson_destroy(document); }
};
// A heap document (bson_new, BCON_NEW): movable.
using Bson = std::unique_ptr<bson_t, BsonCloser>;

// A document that libmongoc fills in (replies are initialised by the driver even on failure)
// or that is built in place; destroyed with its owner. Not movable: bson_t may not be copied.
class Document {
 public:
  Document() = default;
  ~Document() { bson_destroy(&document_); }
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;
  bson_t* get() noexcept { return &document_; }
  [[nodiscard]] const bson_t* get() const noexcept { return &document_; }

 private:
  bson_t document_ = BSON_INITIALIZER;
};

// mongoc_init() once per process, with the driver's own log lines silenced (every error
// reaches the caller as a Result).
void ensure_driver();

// The driver's message as one line.
std::string one_line(std::string_view text);

// Whether the error means the server could not be reached or the connection broke (as
// opposed to an answer from the server).
bool is_connection_error(const bson_error_t& error);

// A server's error code (libmongoc's error API version 2), or 0 for a client-side error.
std::uint32_t server_code(const bson_error_t& error);

inline constexpr std::uint32_t duplicate_key_code = 11000;
inline constexpr std::uint32_t namespace_exists_code = 48;

// `what` failed on `target`: Errc::unavailable (retry later), or invalid_input for data the
// server refuses (a document too large, bad BSON). `when_lost` is appended after "connection
// lost" (e.g. "; the events may or may not be stored").
Error error_of(const bson_error_t& error, std::string_view what, std::string_view target,
               std::string_view when_lost = {});

// Fields of a document. Numbers may come back as int32, int64 or an integral double
// (another tool may have rewritten them): all are read as int64.
std::optional<std::int64_t> int_field(const bson_t* document, const char* key);
std::optional<std::string_view> utf8_field(const bson_t* document, const char* key);
// The time of a BSON date field, in milliseconds since the epoch.
std::optional<std::int64_t> date_field(const bson_t* document, const char* key);
// A sub-document field, borrowed from `document` (valid while it lives).
bool document_field(const bson_t* document, const char* key, bson_t* out);

// The first document that `filter` matches (with `opts`: projection, sort), if any.
Result<std::optional<Bson>> find_one(mongoc_collection_t* collection, const bson_t* filter,
                                     const bson_t* opts, std::string_view what,
                                     std::string_view target);

}  // namespace api_broker::store::mongo
