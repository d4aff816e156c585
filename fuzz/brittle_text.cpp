// The brittle API's text helpers on any bytes (they read request bodies from the network):
// reversing code points keeps the size and, for UTF-8, is undone by reversing again; a body
// written as a JSON string is always valid JSON, holding the same text when it is UTF-8.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api_broker/assert.hpp"
#include "text.hpp"

using namespace api_broker;
using namespace api_broker::brittle_api::detail;

namespace {

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_bytes(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string reversed = reverse_code_points(text);
  API_BROKER_ASSERT(reversed.size() == text.size());
  const bool utf8 = is_utf8(text);
  if (utf8) API_BROKER_ASSERT(reverse_code_points(reversed) == text);

  std::string json;
  append_json_string(json, text);
  const auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  API_BROKER_ASSERT(parsed.is_string());
  if (utf8) API_BROKER_ASSERT(parsed.get<std::string>() == text);
  return 0;
}
