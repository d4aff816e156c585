#pragma once
// One stored event as every backend keeps it (columns, not types), and the one way back to
// an Envelope. A row that does not decode is Errc::corrupt naming its id, whatever the backend.

#include <cstdint>
#include <optional>
#include <string_view>

#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"

namespace api_broker::store {

struct StoredRow {
  std::uint64_t id = 0;
  std::int64_t created_us = 0;  // UTC microseconds since the epoch
  std::uint64_t causation_id = 0;
  std::optional<std::string_view> external_uuid;  // canonical text, if stored
  std::string_view class_tag;
  std::string_view payload;  // JSON text
};

Result<events::Envelope> decode_stored_row(const StoredRow& row);

}  // namespace api_broker::store
