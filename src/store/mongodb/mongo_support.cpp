#include "mongo_support.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <mutex>

namespace api_broker::store::mongo {
namespace {

void ignore_log(mongoc_log_level_t, const char*, const char*, void*) {}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void ensure_driver() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_log_set_handler(ignore_log, nullptr);
    mongoc_init();
    // No mongoc_cleanup(): a store still open at exit (a follower thread included) would
    // use the driver after it; the process's end frees everything.
  });
}

std::string one_line(std::string_view text) {
  std::string line;
  bool blank = false;
  for (char c : text) {
    if (is_blank(c)) {
      blank = !line.empty();
      continue;
    }
    if (blank) line += ' ';
    blank = false;
    line += c;
  }
  return line.empty() ? "unknown error" : line;
}

bool is_connection_error(const bson_error_t& error) {
  switch (error.domain) {
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_PROTOCOL:
      return true;
    case MONGOC_ERROR_CLIENT:
      return error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE;
    default:
      return false;
  }
}

std::uint32_t server_code(const bson_error_t& error) {
  return error.domain == MONGOC_ERROR_SERVER || error.domain == MONGOC_ERROR_WRITE_CONCERN
             ? error.code
             : 0;
}

Error error_of(const bson_error_t& error, std::string_view what, std::string_view target,
               std::string_view when_lost) {
  const std::string message = one_line(error.message);
  if (error.domain == MONGOC_ERROR_CLIENT && error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
    return Error{Errc::unavailable,
                 fmt::format("mongodb {} on {}: authentication failed: {}", what, target, message)};
  }
  if (error.domain == MONGOC_ERROR_SERVER_SELECTION) {
    return Error{Errc::unavailable, fmt::format("mongodb {} on {}: server unreachable{}: {}", what,
                                                target, when_lost, message)};
  }
  if (is_connection_error(error)) {
    return Error{Errc::unavailable, fmt::format("mongodb {} on {}: connection lost{}: {}", what,
                                                target, when_lost, message)};
  }
  // Data the server or the driver cannot take is the caller's input; anything else may pass
  // (an election, a restart, a permission fixed).
  constexpr std::uint32_t bson_object_too_large = 10334;
  const bool bad_input =
      error.domain == MONGOC_ERROR_BSON ||
      (error.domain == MONGOC_ERROR_COMMAND && error.code == MONGOC_ERROR_COMMAND_INVALID_ARG) ||
      server_code(error) == bson_object_too_large;
  return Error{bad_input ? Errc::invalid_input : Errc::unavailable,
               fmt::format("mongodb {} on {}: {}", what, target, message)};
}

std::optional<std::int64_t> int_field(const bson_t* document, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, document, key)) return std::nullopt;
  switch (bson_iter_type(&iter)) {
    case BSON_TYPE_INT32:
      return bson_iter_int32(&iter);
    case BSON_TYPE_INT64:
      return bson_iter_int64(&iter);
    case BSON_TYPE_DOUBLE: {
      const double value = bson_iter_double(&iter);
      if (!(std::fabs(value) < 9.0e15) || std::trunc(value) != value) return std::nullopt;
      return static_cast<std::int64_t>(value);
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string_view> utf8_field(const bson_t* document, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, document, key) || !BSON_ITER_HOLDS_UTF8(&iter)) {
    return std::nullopt;
  }
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&iter, &length);
  return std::string_view(text, length);
}

std::optional<std::int64_t> date_field(const bson_t* document, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, document, key) || !BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    return std::nullopt;
  }
  return bson_iter_date_time(&iter);
}

bool document_field(const bson_t* document, const char* key, bson_t* out) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, document, key) || !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
    return false;
  }
  std::uint32_t length = 0;
  const std::uint8_t* data = nullptr;
  bson_iter_document(&iter, &length, &data);
  return bson_init_static(out, data, length);
}

Result<std::optional<Bson>> find_one(mongoc_collection_t* collection, const bson_t* filter,
                                     const bson_t* opts, std::string_view what,
                                     std::string_view target) {
  Document limited;
  if (opts != nullptr) bson_copy_to_excluding_noinit(opts, limited.get(), "limit", nullptr);
  BSON_APPEND_INT64(limited.get(), "limit", 1);
  BSON_APPEND_BOOL(limited.get(), "singleBatch", true);
  Cursor cursor(mongoc_collection_find_with_opts(collection, filter, limited.get(), nullptr));
  const bson_t* found = nullptr;
  if (mongoc_cursor_next(cursor.get(), &found)) return std::optional<Bson>(Bson(bson_copy(found)));
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return fail(error_of(error, what, target));
  return std::optional<Bson>();
}

}  // namespace api_broker::store::mongo

namespace api_broker::store {

void start_without_driver_shared_memory(char** argv) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): called once, before any thread of ours starts
  if (std::getenv("MONGOC_DISABLE_SHM") != nullptr) return;
  ::setenv("MONGOC_DISABLE_SHM", "1", 1);  // NOLINT(concurrency-mt-unsafe): as above
  mongoc_cleanup();  // removes this process's counters file before the program starts over
  ::execv("/proc/self/exe", argv);
  mongoc_init();  // could not start over: go on as it was
}

}  // namespace api_broker::store
