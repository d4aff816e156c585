#pragma once
// The event classes: one value type per class tag ("api-timeout" -> ApiTimeout). The JSON
// field names are the prototype's; new fields sit beside them and are optional on decode,
// so logs written by older versions still load.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace api_broker::events {

// Policy for requests that arrive after it. -1 in any field keeps the value in force.
struct Configuration {
  std::int64_t retries = -1;       // further attempts after the first
  double timeout = -1;             // seconds per attempt; 0 = none
  double backoff_initial = -1;     // seconds before the first retry
  double backoff_multiplier = -1;  // growth per retry, >= 1
  double backoff_max = -1;         // seconds, cap of one delay
  double backoff_jitter = -1;      // fraction in [0, 1] of a delay drawn at random
  double deadline = -1;            // seconds from the request to its last attempt; 0 = none
  friend bool operator==(const Configuration&, const Configuration&) = default;
};

// A plain event with no meaning to the broker.
struct Simple {
  std::string message;
  friend bool operator==(const Simple&, const Simple&) = default;
};

// A client wants `request` POSTed to the API.
struct Request {
  std::string request;
  friend bool operator==(const Request&, const Request&) = default;
};

// Attempt `attempt` (0-based) was started; it goes out only after this is committed.
struct ApiRequest {
  std::uint32_t attempt = 0;
  friend bool operator==(const ApiRequest&, const ApiRequest&) = default;
};

// A 2xx answer to attempt `attempt`.
struct ApiResponse {
  std::uint32_t attempt = 0;
  std::string response;       // the body, capped (see `truncated`)
  std::int32_t status = 200;  // HTTP status code
  bool truncated = false;     // the body was longer than the cap and was cut
  friend bool operator==(const ApiResponse&, const ApiResponse&) = default;
};

// Attempt `attempt` failed: a non-2xx status, or a local error when status is 0.
struct ApiFailure {
  std::uint32_t attempt = 0;
  std::string failure;      // human-readable reason
  std::int32_t status = 0;  // HTTP status; 0 = no answer (connection error, dropped)
  std::string body;         // an excerpt of the answer's body, if any
  double retry_after = -1;  // seconds from a Retry-After header; -1 = none
  bool truncated = false;   // `body` is the first part of a longer body
  // Retrying cannot help (e.g. the server's certificate failed verification): the request
  // fails at once, whatever its status and policy.
  bool permanent = false;
  friend bool operator==(const ApiFailure&, const ApiFailure&) = default;
};

// The per-attempt timeout of attempt `attempt` elapsed before an answer.
struct ApiTimeout {
  std::uint32_t attempt = 0;
  friend bool operator==(const ApiTimeout&, const ApiTimeout&) = default;
};

// Terminal: attempt `attempt` answered 2xx; `attempts` were started in all.
struct RequestSucceeded {
  std::uint32_t attempts = 0;
  std::uint32_t attempt = 0;
  friend bool operator==(const RequestSucceeded&, const RequestSucceeded&) = default;
};

// Terminal: the broker gave up after `attempts` attempts, for `reason`.
struct RequestFailed {
  std::uint32_t attempts = 0;
  std::string reason;
  friend bool operator==(const RequestFailed&, const RequestFailed&) = default;
};

using Event = std::variant<Configuration, Simple, Request, ApiRequest, ApiResponse, ApiFailure,
                           ApiTimeout, RequestSucceeded, RequestFailed>;

// The class tag of an event ("api-timeout").
std::string_view class_name(const Event& event);

}  // namespace api_broker::events
