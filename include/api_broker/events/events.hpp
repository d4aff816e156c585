#pragma once
// The event classes: one value type per class tag ("api-timeout" -> ApiTimeout). The JSON
// field names are the prototype's; new fields sit beside them and are optional on decode,
// so logs written by older versions still load.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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

// One header field of a request or a target. A value "env:VAR" or "file:PATH" is a reference
// to a secret: the processor resolves it when it sends, and the log keeps only the reference.
struct HeaderField {
  std::string name;
  std::string value;
  friend bool operator==(const HeaderField&, const HeaderField&) = default;
};

// A client wants `request` sent. With only `request` set (the prototype's request), it is
// POSTed to <api-url>/api. Every other field is optional and omitted from the JSON when empty,
// so a plain request is stored exactly as before.
struct Request {
  std::string request;                 // the body
  std::string method{};                // GET, HEAD, POST, PUT, PATCH or DELETE; "" = POST
  std::string url{};                   // an absolute http(s) URL; "" = see `target`
  std::string target{};                // a named target (a `target` event); "" = none
  std::string path{};                  // with `target`: appended to its URL ("/orders?x=1")
  std::vector<HeaderField> headers{};  // beside the target's; a request's wins on a clash
  std::string content_type{};          // "" = the processor's default for a plain body
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

// A named destination and how the broker treats it ("target"). Each event states the whole
// target: it replaces the earlier definition of `name` for requests that arrive after it (like
// a configuration). Numbers of 0 mean "no bound" / "off".
struct Target {
  std::string name;                    // [A-Za-z0-9._-]{1,64}
  std::string url{};                   // an absolute http(s) base URL; requests add their path
  std::vector<HeaderField> headers{};  // sent with every call to it
  bool removed = false;                // `target remove`: new requests naming it are refused
  std::uint32_t redirects_max = 0;     // redirect hops followed; 0 = a 3xx fails the attempt
  std::string retry_on{};              // statuses retried, e.g. "0,408,429,5xx"; "" = default
  // Protecting the partner:
  std::uint32_t calls_max = 0;         // calls at once
  double rate = 0;                     // calls per second (token bucket)
  double burst = 0;                    // the bucket's size; 0 = max(1, rate)
  std::uint32_t breaker_failures = 0;  // retryable failures in a row that open the breaker
  double breaker_ratio = 0;            // failure ratio over breaker_window that opens it
  double breaker_window = 0;           // seconds
  double breaker_pause = 0;            // seconds open before one probe; 0 = the default
  std::string on_timeout{};            // "keep" (its late answer counts) or "abandon"; "" = keep
  friend bool operator==(const Target&, const Target&) = default;
};

// The circuit breaker of target `target` ("" = the processor's default target) opened: no
// attempt of that target starts until it is half-opened. Appended by the processor.
struct BreakerOpened {
  std::string target;
  std::string reason;  // what opened it, e.g. "5 retryable failures in a row"
  friend bool operator==(const BreakerOpened&, const BreakerOpened&) = default;
};

// The breaker's pause is over: exactly one attempt of `target` (the probe) may start.
struct BreakerHalfOpened {
  std::string target;
  friend bool operator==(const BreakerHalfOpened&, const BreakerHalfOpened&) = default;
};

// Attempts of `target` flow again: the probe succeeded ("probe succeeded"), or a processor
// that did not know the breaker's state started it closed ("reset").
struct BreakerClosed {
  std::string target;
  std::string reason;
  friend bool operator==(const BreakerClosed&, const BreakerClosed&) = default;
};

// Someone (the HTTP service's POST /v1/requests/{id}/cancel) asked that an unfinished request
// end: no further attempt starts, and the processor appends request-failed with the reason
// "cancelled: <reason>". Caused by the request. Read after the request's terminal event, it
// changes nothing.
struct RequestCancelled {
  std::string reason{};  // who or why, e.g. "by the API"; may be empty
  friend bool operator==(const RequestCancelled&, const RequestCancelled&) = default;
};

// Someone (POST /v1/requests/{id}/retry) asked that a failed request get a new round of
// attempts. Caused by the request, read after its request-failed: the request is unfinished
// again; attempts go on numbering where they stopped, the round has the retries of the
// request's policy, and its deadline counts from this event's time. The round ends with a
// new terminal event.
// Its fields let a reader that dropped the request at its terminal event (the processor) start
// the round without the request's history; a state machine that folded the history checks them.
// Its external UUID is retry_uuid(request, round) (events/codec.hpp), so that two retries of one
// failure cannot both be stored.
struct RequestRetried {
  std::string reason{};
  std::uint32_t round = 0;     // the round it starts: 1 for the first retry, 2, ...
  std::uint32_t attempts = 0;  // attempts started before it: the round's first is numbered so
  friend bool operator==(const RequestRetried&, const RequestRetried&) = default;
};

using Event = std::variant<Configuration, Simple, Request, ApiRequest, ApiResponse, ApiFailure,
                           ApiTimeout, RequestSucceeded, RequestFailed, Target, BreakerOpened,
                           BreakerHalfOpened, BreakerClosed, RequestCancelled, RequestRetried>;

// The class tag of an event ("api-timeout").
std::string_view class_name(const Event& event);

}  // namespace api_broker::events
