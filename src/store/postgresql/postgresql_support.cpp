#include "postgresql_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/redact.hpp"

namespace api_broker::store {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

}  // namespace

namespace pg {

std::string one_line(std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && is_blank(part.front())) part.remove_prefix(1);
    while (!part.empty() && is_blank(part.back())) part.remove_suffix(1);
    if (!part.empty()) {
      if (!line.empty()) line += "; ";
      bool blank = false;
      for (char c : part) {
        if (is_blank(c)) {
          blank = true;
          continue;
        }
        if (blank) line += ' ';
        blank = false;
        line += c;
      }
    }
    start = end + 1;
  }
  return redact_password(line);
}

std::string int8_bytes(std::int64_t value) {
  const auto bits = static_cast<std::uint64_t>(value);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(bits >> (56 - 8 * i));
  return bytes;
}

std::string timestamptz_bytes(std::int64_t unix_micros) {
  constexpr std::int64_t unix_micros_at_2000 = 946'684'800'000'000;
  return int8_bytes(unix_micros - unix_micros_at_2000);
}

std::string without_nul_escapes(std::string json) {
  std::size_t at = 0;
  while ((at = json.find('\\', at)) != std::string::npos) {
    if (json.compare(at, 6, "\\u0000") == 0) {
      json.replace(at + 2, 4, "fffd");
      at += 6;
    } else {
      at += 2;  // an escaped character, possibly a backslash: never the start of an escape
    }
  }
  return json;
}

BinaryArray::BinaryArray(Oid element_type, std::size_t count) : count_(count) {
  API_BROKER_ASSERT(count <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(1);  // dimensions
  add_length(0);  // flags: 1 once a NULL is added
  add_length(static_cast<std::int32_t>(element_type));
  add_length(static_cast<std::int32_t>(count));  // elements in the dimension
  add_length(1);                                 // its lower bound
}

void BinaryArray::add(std::string_view element) {
  API_BROKER_ASSERT(added_ < count_);
  API_BROKER_ASSERT(element.size() <=
                    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(static_cast<std::int32_t>(element.size()));
  bytes_.append(element);
  ++added_;
}

void BinaryArray::add_null() {
  API_BROKER_ASSERT(added_ < count_);
  bytes_[7] = 1;  // the low byte of the flags
  add_length(-1);
  ++added_;
}

void BinaryArray::add_jsonb(std::string_view json) {
  API_BROKER_ASSERT(added_ < count_);
  API_BROKER_ASSERT(json.size() <
                    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(static_cast<std::int32_t>(json.size() + 1));
  bytes_ += '\1';
  bytes_.append(json);
  ++added_;
}

const std::string& BinaryArray::bytes() const {
  API_BROKER_ASSERT(added_ == count_);
  return bytes_;
}

void BinaryArray::add_length(std::int32_t length) {
  const auto bits = static_cast<std::uint32_t>(length);
  for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>(bits >> (24 - 8 * i));
}

std::string_view text_of(const PGresult* result, int row, int column) {
  return {PQgetvalue(result, row, column),
          static_cast<std::size_t>(PQgetlength(result, row, column))};
}

std::optional<std::int64_t> int_of(const PGresult* result, int row, int column) {
  const std::string_view text = text_of(result, row, column);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::int64_t clamp_to_int64(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

Result<BatchColumns> encode_batch(std::span<const events::NewEvent> batch) {
  const std::size_t count = batch.size();
  BatchColumns columns(count);
  std::size_t bytes = 0;
  for (const events::NewEvent& event : batch) {
    const std::string payload = without_nul_escapes(events::encode_payload(event.event));
    if (payload.size() > limits::payload_bytes_max) {
      return fail(Errc::invalid_input,
                  fmt::format("{} payload is larger than {} bytes", events::class_name(event.event),
                              limits::payload_bytes_max));
    }
    bytes += payload.size();
    if (bytes > limits::postgresql_batch_bytes_max) {
      return fail(Errc::invalid_input,
                  fmt::format("a batch of {} events is larger than {} bytes; append fewer at "
                              "a time",
                              count, limits::postgresql_batch_bytes_max));
    }
    columns.causations.add(int8_bytes(clamp_to_int64(events::to_int(event.causation_id))));
    if (event.external_uuid) {
      const auto& raw = event.external_uuid->bytes;
      columns.uuids.add({reinterpret_cast<const char*>(raw.data()), raw.size()});
      columns.external_uuids.push_back(*event.external_uuid);
    } else {
      columns.uuids.add_null();
    }
    columns.classes.add(events::class_name(event.event));
    columns.payloads.add_jsonb(payload);
  }
  return columns;
}

}  // namespace pg
}  // namespace api_broker::store
