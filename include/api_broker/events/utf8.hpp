#pragma once
// Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). Event text is
// JSON, which holds only UTF-8: text from a client is checked with this; bytes from the API
// are stored with U+FFFD in place of what is not UTF-8 (codec.hpp).

#include <cstddef>
#include <optional>
#include <string_view>

namespace api_broker::events {

// Length of the well-formed UTF-8 sequence that starts at text[pos], or 0 if the byte there
// starts none. REQUIRES: pos < text.size().
std::size_t utf8_sequence_bytes(std::string_view text, std::size_t pos);

// The offset of the first byte of `text` that is not part of well-formed UTF-8; nullopt when
// all of it is.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// The first at most `bytes_max` bytes of `text`, without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes_max);

}  // namespace api_broker::events
