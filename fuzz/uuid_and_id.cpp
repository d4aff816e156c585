// The text forms of external UUIDs and event ids, as the CLI and the stores read them:
// parse_uuid accepts exactly 8-4-4-4-12 hex digits (optionally in braces) and prints back the
// same digits in lower case; every UUID prints to text that parses back to it; parse_event_id
// accepts exactly the decimal numbers that fit 64 bits and prints back without leading zeros.

#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/events/uuid.hpp"

using namespace api_broker;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_uuid_text(const std::string& text) {
  auto uuid = events::parse_uuid(text);
  if (!uuid) {
    API_BROKER_ASSERT(uuid.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(uuid.error().message.find('\n') == std::string::npos);
    return;
  }
  std::string_view body = text;
  if (body.size() == 38) body = body.substr(1, 36);
  API_BROKER_ASSERT(events::to_string(*uuid) == lower(body));
}

void check_id_text(const std::string& text) {
  auto id = events::parse_event_id(text);
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (!id) {
    API_BROKER_ASSERT(id.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(id.error().message.find('\n') == std::string::npos);
    // Only digits above 2^63-1 may be refused.
    if (digits) {
      const auto first = text.find_first_not_of('0');
      API_BROKER_ASSERT(first != std::string::npos);
      const std::string_view value = std::string_view(text).substr(first);
      API_BROKER_ASSERT(value.size() > 19 || (value.size() == 19 && value > "9223372036854775807"));
    }
    return;
  }
  API_BROKER_ASSERT(digits);
  const auto first = text.find_first_not_of('0');
  const std::string canonical = first == std::string::npos ? "0" : text.substr(first);
  API_BROKER_ASSERT(std::to_string(events::to_int(*id)) == canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  // Any 16 bytes print as a UUID that parses back to them, braced or in upper case too.
  events::Uuid uuid;
  for (auto& byte : uuid.bytes) byte = in.ConsumeIntegral<std::uint8_t>();
  const std::string text = events::to_string(uuid);
  API_BROKER_ASSERT(text.size() == 36);
  API_BROKER_ASSERT(*events::parse_uuid(text) == uuid);
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  API_BROKER_ASSERT(*events::parse_uuid("{" + upper + "}") == uuid);
  // Any id up to 2^63-1 prints as text that parses back to it; a larger one is refused (the
  // stores keep ids as signed 64-bit integers).
  const auto number = in.ConsumeIntegral<std::uint64_t>();
  const auto parsed = events::parse_event_id(std::to_string(number));
  if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    API_BROKER_ASSERT(parsed && events::to_int(*parsed) == number);
  } else {
    API_BROKER_ASSERT(!parsed);
  }

  const std::string rest = in.ConsumeRemainingBytesAsString();
  check_uuid_text(rest);
  check_id_text(rest);
  return 0;
}
