// Any stored row, as a backend hands it over: decode_stored_row never crashes; a row it refuses
// is Errc::corrupt naming the row's id; a row it decodes prints (envelope_to_json) as JSON
// that holds the same id, time, causation, UUID, class and payload, and stores back (encoded
// as a backend would) to a row that decodes to the same envelope.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/store/stored_row.hpp"

using namespace api_broker;

namespace {

std::string uuid_text(FuzzedDataProvider& in) {
  if (in.ConsumeBool()) return in.ConsumeRandomLengthString(40);
  events::Uuid uuid;
  for (auto& byte : uuid.bytes) byte = in.ConsumeIntegral<std::uint8_t>();
  return events::to_string(uuid);
}

std::string class_tag(FuzzedDataProvider& in) {
  const auto names = events::class_names();
  const auto pick = in.ConsumeIntegralInRange<std::size_t>(0, names.size());
  return pick < names.size() ? std::string(names[pick]) : in.ConsumeRandomLengthString(40);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto id = in.ConsumeIntegral<std::uint64_t>();
  const auto created_us = in.ConsumeIntegral<std::int64_t>();
  const auto causation_id = in.ConsumeIntegral<std::uint64_t>();
  std::optional<std::string> uuid;
  if (in.ConsumeBool()) uuid = uuid_text(in);
  const std::string tag = class_tag(in);
  const std::string payload = in.ConsumeRemainingBytesAsString();

  const store::StoredRow row{.id = id,
                             .created_us = created_us,
                             .causation_id = causation_id,
                             .external_uuid = uuid ? std::optional<std::string_view>(*uuid)
                                                   : std::optional<std::string_view>(),
                             .class_tag = tag,
                             .payload = payload};
  auto envelope = store::decode_stored_row(row);
  if (!envelope) {
    API_BROKER_ASSERT(envelope.error().code == Errc::corrupt);
    API_BROKER_ASSERT(envelope.error().related_id == id);
    API_BROKER_ASSERT(
        envelope.error().message.starts_with("event " + std::to_string(id) + " is corrupt: "));
    return 0;
  }
  API_BROKER_ASSERT(events::to_int(envelope->id) == id);
  API_BROKER_ASSERT(envelope->created.time_since_epoch().count() == created_us);
  API_BROKER_ASSERT(events::to_int(envelope->causation_id) == causation_id);
  API_BROKER_ASSERT(envelope->external_uuid.has_value() == uuid.has_value());

  // envelope_to_json carries every field.
  const auto json = nlohmann::json::parse(events::envelope_to_json(*envelope), nullptr,
                                          /*allow_exceptions=*/false);
  API_BROKER_ASSERT(json.is_object());
  API_BROKER_ASSERT(json["id"].get<std::uint64_t>() == id);
  API_BROKER_ASSERT(json["causation_id"].get<std::uint64_t>() == causation_id);
  API_BROKER_ASSERT(json["created"].get<std::string>() == events::format_time(envelope->created));
  API_BROKER_ASSERT(json["class"].get<std::string>() == tag);
  if (uuid) {
    API_BROKER_ASSERT(json["external_uuid"].get<std::string>() ==
                      events::to_string(*envelope->external_uuid));
  } else {
    API_BROKER_ASSERT(json["external_uuid"].is_null());
  }
  auto from_json = events::decode_payload(tag, json["payload"].dump());
  API_BROKER_ASSERT(from_json.has_value());
  API_BROKER_ASSERT(*from_json == envelope->event);

  // Stored again the way a backend stores it, it reads back the same.
  const std::string canonical_uuid =
      envelope->external_uuid ? events::to_string(*envelope->external_uuid) : std::string();
  const std::string stored_payload = events::encode_payload(envelope->event);
  const store::StoredRow again{
      .id = id,
      .created_us = created_us,
      .causation_id = causation_id,
      .external_uuid = envelope->external_uuid ? std::optional<std::string_view>(canonical_uuid)
                                               : std::optional<std::string_view>(),
      .class_tag = events::class_name(envelope->event),
      .payload = stored_payload};
  auto reread = store::decode_stored_row(again);
  API_BROKER_ASSERT(reread.has_value());
  API_BROKER_ASSERT(*reread == *envelope);
  return 0;
}
