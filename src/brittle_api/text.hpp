#pragma once
// Text helpers of the brittle API: pure, no I/O.

#include <cstddef>
#include <string>
#include <string_view>

#include "api_broker/events/utf8.hpp"

namespace api_broker::brittle_api::detail {

using events::utf8_sequence_bytes;

// `text` with its code points in reverse order. Bytes that are not part of a well-formed
// UTF-8 sequence count as one unit each, so any input gives an output of the same size.
std::string reverse_code_points(std::string_view text);

// Appends `text` as a JSON string, quotes included. Bytes that are not well-formed UTF-8 are
// written as U+FFFD, so the result is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace api_broker::brittle_api::detail
