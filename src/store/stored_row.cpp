#include "api_broker/store/stored_row.hpp"

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::store {

Result<events::Envelope> decode_stored_row(const StoredRow& row) {
  auto corrupt = [&](const std::string& why) {
    return fail(Errc::corrupt, fmt::format("event {} is corrupt: {}", row.id, why), row.id);
  };
  events::Envelope envelope;
  envelope.id = events::EventId{row.id};
  envelope.created = TimePoint(Duration(row.created_us));
  envelope.causation_id = events::EventId{row.causation_id};
  if (row.external_uuid) {
    auto uuid = events::parse_uuid(*row.external_uuid);
    if (!uuid) return corrupt(uuid.error().message);
    envelope.external_uuid = *uuid;
  }
  auto event = events::decode_payload(row.class_tag, row.payload, limits::stored_payload_bytes_max);
  if (!event) return corrupt(event.error().message);
  envelope.event = std::move(*event);
  return envelope;
}

}  // namespace api_broker::store
