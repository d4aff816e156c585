#include "text.hpp"

#include <cstring>

#include "api_broker/assert.hpp"

namespace api_broker::brittle_api::detail {

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
