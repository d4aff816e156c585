#include "text.hpp"

#include <cstring>

#include "api_broker/assert.hpp"

namespace api_broker::brittle_api::detail {
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

std::string reverse_code_points(std::string_view text) {
  std::string reversed(text.size(), '\0');
  std::size_t end = reversed.size();  // each unit goes just before the previous one
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t valid = utf8_sequence_bytes(text, pos);
    const std::size_t bytes = valid == 0 ? 1 : valid;
    API_BROKER_ASSERT(bytes <= end);
    end -= bytes;
    std::memcpy(reversed.data() + end, text.data() + pos, bytes);
    pos += bytes;
  }
  API_BROKER_ASSERT(end == 0);
  return reversed;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t bytes = utf8_sequence_bytes(text, pos);
    if (bytes == 0) {
      out += "\\ufffd";
      pos += 1;
      continue;
    }
    if (bytes > 1) {
      out.append(text.substr(pos, bytes));
      pos += bytes;
      continue;
    }
    const char c = text[pos++];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(hex[static_cast<unsigned char>(c) >> 4]);
          out.push_back(hex[static_cast<unsigned char>(c) & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace api_broker::brittle_api::detail
