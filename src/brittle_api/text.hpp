#pragma once
// Text helpers of the brittle API: pure, no I/O.

#include <cstddef>
#include <string>
#include <string_view>

namespace api_broker::brittle_api::detail {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) that starts at text[pos], or 0 if the byte there starts none.
// REQUIRES: pos < text.size().
std::size_t utf8_sequence_bytes(std::string_view text, std::size_t pos);

// `text` with its code points in reverse order. Bytes that are not part of a well-formed
// UTF-8 sequence count as one unit each, so any input gives an output of the same size.
std::string reverse_code_points(std::string_view text);

// Appends `text` as a JSON string, quotes included. Bytes that are not well-formed UTF-8 are
// written as U+FFFD, so the result is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace api_broker::brittle_api::detail
