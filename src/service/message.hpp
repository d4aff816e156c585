#pragma once
// The service's HTTP messages as plain values: what a handler reads (Request) and answers
// (Response), without Beast or Asio, so that routes, auth and the JSON handlers are pure and
// tested without a socket. The server (server.hpp) converts from and to Beast's types.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api_broker/result.hpp"

namespace api_broker::service {

// What a caller may do, from its Bearer token (auth.hpp).
enum class Access : std::uint8_t {
  none,       // no token, or one that is not configured
  read_only,  // GET and HEAD only (the dashboard)
  full,       // everything
};

struct Request {
  std::string method;  // upper case, as sent ("GET")
  std::string target;  // as sent: path and query ("/v1/requests?state=failed")
  std::string path;    // decoded path, without the query ("/v1/requests")
  // Query parameters, decoded; a name given twice keeps the last value.
  std::unordered_map<std::string, std::string> query;
  // Header fields with lower-case names; a name given twice keeps the last value.
  std::unordered_map<std::string, std::string> headers;
  std::string body;
  // Set by the router: the {name} segments of the route's pattern, and the caller's access.
  std::unordered_map<std::string, std::string> params;
  Access access = Access::none;

  // The header field `lower_name`, or "" when absent.
  [[nodiscard]] std::string_view header(const std::string& lower_name) const;
  // The query parameter `name`, if given.
  [[nodiscard]] std::optional<std::string_view> parameter(const std::string& name) const;
};

// A body produced over time (Server-Sent Events): the server writes what take() gives as it
// comes, and closes the connection when the stream ends. Implementations bound what they hold.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Moves the bytes ready now to the end of `out`; false once the stream has ended and
  // everything was taken.
  virtual bool take(std::string& out) = 0;
  // `wake` is called (from any thread, possibly at once) whenever take() has more to give or
  // the stream ended. Called once, before the first take().
  virtual void on_ready(std::function<void()> wake) = 0;
  // The client went away or the server stops: the producer ends soon and calls wake no more.
  virtual void close() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};  // beside Content-Type
  std::string body{};
  // Set: the body is this stream (status and headers first, then its bytes until it ends).
  std::shared_ptr<BodyStream> stream{};
};

// How a handler answers: exactly once, from any thread (the server goes back to the
// connection's own thread to write).
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&, Respond)>;

// A JSON response.
Response json_response(int status, std::string body);

// Splits a request target ("/v1/requests?state=failed&limit=10") into its decoded path and
// query parameters ('+' in the query is a space; %XX anywhere). Errc::invalid_input for a
// target that is not origin-form or a bad %-escape.
Result<void> parse_target(std::string_view target, Request& request);
// `text` with %XX escapes decoded ('+' as a space when `plus_is_space`); nullopt for a bad
// escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace api_broker::service
