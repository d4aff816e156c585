#include "api_broker/events/utf8.hpp"

#include "api_broker/assert.hpp"

namespace api_broker::events {
namespace {

bool in_range(std::string_view text, std::size_t pos, unsigned char low, unsigned char high) {
  if (pos >= text.size()) return false;
  const auto byte = static_cast<unsigned char>(text[pos]);
  return byte >= low && byte <= high;
}

bool continuation(std::string_view text, std::size_t pos) {
  return in_range(text, pos, 0x80, 0xBF);
}

}  // namespace

std::size_t utf8_sequence_bytes(std::string_view text, std::size_t pos) {
  API_BROKER_ASSERT(pos < text.size());
  const auto lead = static_cast<unsigned char>(text[pos]);
  // The table of well-formed byte sequences in the Unicode standard (chapter 3, table 3-7).
  if (lead <= 0x7F) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(text, pos + 1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;  // 0xED A0..BF: surrogates
    return in_range(text, pos + 1, low, high) && continuation(text, pos + 2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;  // above 0xF4 8F: beyond U+10FFFF
    return in_range(text, pos + 1, low, high) && continuation(text, pos + 2) &&
                   continuation(text, pos + 3)
               ? 4
               : 0;
  }
  return 0;
}

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t bytes = utf8_sequence_bytes(text, pos);
    if (bytes == 0) return pos;
    pos += bytes;
  }
  return std::nullopt;
}

std::string_view utf8_prefix(std::string_view text, std::size_t bytes_max) {
  if (text.size() <= bytes_max) return text;
  std::size_t end = bytes_max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
  return text.substr(0, end);
}

}  // namespace api_broker::events
