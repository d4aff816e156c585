// Any bytes as the payload of any class: decode_payload and decode_input_payload never crash
// and fail only with Errc::invalid_input; an event decoded encodes to a payload that decodes to
// the same event, and its envelope prints as one line of valid JSON.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"

using namespace api_broker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto names = events::class_names();
  const auto pick = in.ConsumeIntegralInRange<std::size_t>(0, names.size());
  const std::string tag =
      pick < names.size() ? std::string(names[pick]) : in.ConsumeRandomLengthString(40);
  const std::string payload = in.ConsumeRemainingBytesAsString();

  // As input (`insert`): parse_strict_json's refusals too (a key twice, deep nesting), one
  // line each; what it accepts, the plain decoder reads the same.
  auto input = events::decode_input_payload(tag, payload);
  if (!input) {
    API_BROKER_ASSERT(input.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(!input.error().message.empty());
    API_BROKER_ASSERT(input.error().message.find('\n') == std::string::npos);
  }
  auto event = events::decode_payload(tag, payload);
  if (input) {
    API_BROKER_ASSERT(event.has_value());
    API_BROKER_ASSERT(*event == *input);
  }
  if (!event) {
    API_BROKER_ASSERT(event.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(!event.error().message.empty());
    API_BROKER_ASSERT(event.error().message.find('\n') == std::string::npos);
    return 0;
  }
  API_BROKER_ASSERT(events::class_name(*event) == tag);
  // The parser accepted only UTF-8, so every string survives the round trip exactly.
  const std::string encoded = events::encode_payload(*event);
  auto again = events::decode_payload(tag, encoded);
  API_BROKER_ASSERT(again.has_value());
  API_BROKER_ASSERT(*again == *event);
  API_BROKER_ASSERT(events::encode_payload(*again) == encoded);

  const events::Envelope envelope{.id = events::EventId{1}, .event = *event};
  const std::string json = events::envelope_to_json(envelope);
  API_BROKER_ASSERT(json.find('\n') == std::string::npos);
  const auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  API_BROKER_ASSERT(parsed.is_object());
  API_BROKER_ASSERT(parsed["payload"].dump() == encoded);
  const std::string line = events::envelope_to_line(envelope);
  API_BROKER_ASSERT(line.find('\n') == std::string::npos);
  return 0;
}
