#pragma once
// libpq helpers for the PostgreSQL store: owners of libpq's C handles, one-line messages,
// and parameters in PostgreSQL's binary wire format (so no value is ever spliced into SQL
// text, and numbers, UUIDs and arrays need no quoting or escaping).

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/events/envelope.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"

namespace api_broker::store::pg {

struct ConnectionCloser {
  void operator()(PGconn* connection) const noexcept { PQfinish(connection); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;

struct ResultClearer {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using QueryResult = std::unique_ptr<PGresult, ResultClearer>;

// Type OIDs of the built-in types used in binary parameters (fixed in pg_type.dat).
inline constexpr Oid int8_oid = 20;
inline constexpr Oid text_oid = 25;
inline constexpr Oid timestamptz_oid = 1184;
inline constexpr Oid uuid_oid = 2950;
inline constexpr Oid jsonb_oid = 3802;

// libpq's messages span several lines ("...failed: Connection refused\n\tIs the server
// running...?"): this joins the lines with "; ", collapses runs of blanks and redacts
// passwords (redact_password), so every error is one line that is safe to log.
std::string one_line(std::string_view text);

// A 64-bit integer in network byte order (int8's binary format).
std::string int8_bytes(std::int64_t value);

// The binary format of timestamptz: microseconds since 2000-01-01 UTC.
std::string timestamptz_bytes(std::int64_t unix_micros);

// JSON text with every \u0000 escape replaced by \ufffd: jsonb cannot hold U+0000 (it is
// stored as text), so it is kept as the replacement character, like bytes that are not
// UTF-8 (the codec's policy).
std::string without_nul_escapes(std::string json);

// A one-dimensional array parameter in binary format (what array_recv reads).
class BinaryArray {
 public:
  BinaryArray(Oid element_type, std::size_t count);
  void add(std::string_view element);
  void add_null();
  // jsonb's binary format: a version byte (1), then the JSON text.
  void add_jsonb(std::string_view json);
  // REQUIRES: exactly `count` elements were added.
  [[nodiscard]] const std::string& bytes() const;

 private:
  void add_length(std::int32_t length);

  std::string bytes_;
  std::size_t count_;
  std::size_t added_ = 0;
};

// A value of a result row: its text, or its integer (nothing when the text is not one).
std::string_view text_of(const PGresult* result, int row, int column);
std::optional<std::int64_t> int_of(const PGresult* result, int row, int column);

// `value`, or the largest int8 for a larger one.
std::int64_t clamp_to_int64(std::uint64_t value);

// A batch as the append statement takes it: one binary array per column, and the external
// UUIDs it gives (for refuse_uuid_twice).
struct BatchColumns {
  explicit BatchColumns(std::size_t count)
      : causations(int8_oid, count),
        uuids(uuid_oid, count),
        classes(text_oid, count),
        payloads(jsonb_oid, count) {}
  BinaryArray causations, uuids, classes, payloads;
  std::vector<events::Uuid> external_uuids;
};

// Encodes `batch`; Errc::invalid_input for a payload over limits::payload_bytes_max or a
// batch over limits::postgresql_batch_bytes_max. Touches no database.
Result<BatchColumns> encode_batch(std::span<const events::NewEvent> batch);

}  // namespace api_broker::store::pg
