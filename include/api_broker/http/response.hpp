#pragma once
// What one call to the remote API gives and takes, without the client that makes it: the
// processor's decisions, the simulator and the tests use these values and need no Asio.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "api_broker/result.hpp"

namespace api_broker::http {

// A complete HTTP response, whatever its status: a 503 is a Response, not an Error.
struct Response {
  int status = 0;
  std::string body;                           // at most ClientOptions::response_bytes_stored_max
  bool truncated = false;                     // true: `body` is the first part of the body
  std::size_t body_bytes = 0;                 // size of the whole body as received (decoded)
  std::optional<double> retry_after_seconds;  // from Retry-After; >= 0; nullopt if absent/bad
  std::optional<std::string> location;        // the Location header of a 3xx not followed
};

// Names one call of a Client, to cancel it.
enum class CallId : std::uint64_t {};

// One request header field: name, value.
using Header = std::pair<std::string, std::string>;

// Receives the outcome of one call, exactly once.
using ResponseHandler = std::function<void(Result<Response>)>;

}  // namespace api_broker::http
