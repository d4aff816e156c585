#pragma once
// Header values that reference secrets, resolved when a call is sent: "env:VAR" reads the
// environment variable VAR, "file:PATH" the file PATH (its content less one trailing newline).
// The log holds only the references; the resolved values live in the call being sent and are
// never logged. An error names the variable or file, never a value.

#include <span>
#include <string>
#include <vector>

#include "api_broker/events/events.hpp"
#include "api_broker/http/response.hpp"
#include "api_broker/result.hpp"

namespace api_broker::broker {

// Bytes read from a secret file at most.
inline constexpr std::size_t secret_file_bytes_max = std::size_t{64} * 1024;

// `headers` with every reference replaced by its secret. Errc::invalid_input with a one-line
// message for an unset variable, a file that cannot be read or is too large, or a secret with
// a CR, LF or NUL (it would split the header).
Result<std::vector<http::Header>> resolve_headers(std::span<const events::HeaderField> headers);

}  // namespace api_broker::broker
