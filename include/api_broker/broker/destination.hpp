#pragma once
// Where a request goes and what it sends, checked in one pure place: the CLI checks a request
// before it stores it, and the processor builds each call from it. No I/O: header values that
// reference secrets (env:VAR, file:PATH) stay references here; the processor's runtime
// resolves them when it sends (secrets.hpp).
//
// It lives in the broker layer, not in core, because it parses URLs with http::parse_url and
// the core links only the events layer.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/events/events.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/result.hpp"

namespace api_broker::broker {

// A base URL: http or https (url.scheme), host, port, base path (no query).
struct Endpoint {
  http::Url url;
  [[nodiscard]] bool tls() const { return url.scheme == http::Scheme::https; }
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses http[s]://host[:port][/base] (https's port defaults to 443). Errc::invalid_input as
// http::parse_url, with "must be an absolute http or https URL" for another scheme.
Result<Endpoint> parse_endpoint(std::string_view text);
std::string to_string(const Endpoint& endpoint);

// An absolute URL split for a call: the endpoint (host and port, no base path) and what the
// request line names: the path with its query ("/orders?id=1"; "/" when the URL has none).
struct Location {
  Endpoint endpoint;
  std::string target;
  friend bool operator==(const Location&, const Location&) = default;
};
// Parses an absolute http(s) URL with an optional query (no fragment, no spaces or control
// characters); the path is kept as written (a trailing '/' too).
Result<Location> parse_location(std::string_view text);

// An --allow-url prefix: calls may go to URLs of the same scheme, host and port whose path is
// the prefix's path or below it at a segment boundary (http://a.test/v1 allows
// http://a.test/v1 and http://a.test/v1/x, not http://a.test/v10 nor http://a.test.evil).
using UrlPrefix = Endpoint;
Result<UrlPrefix> parse_allow_url(std::string_view text);
bool allows(const std::vector<UrlPrefix>& prefixes, const Location& location);
// A request's `url` ("" passes) is under one of `prefixes` (set by --allow-url or
// API_BROKER_ALLOW_URLS): else a one-line Errc::invalid_input naming the url.
Result<void> check_allowed(const std::vector<UrlPrefix>& prefixes, const events::Request& request);

// The method as sent: GET, HEAD, POST, PUT, PATCH or DELETE, from any case; "" is POST.
Result<std::string> normalize_method(std::string_view method);

// One header field: a token name (not Host, Content-Length, Transfer-Encoding or
// Connection, which the client sets), a value without CR, LF or NUL.
Result<void> check_header(const events::HeaderField& header);
// Header fields of a request or a target: each checked, at most limits::header_fields_max.
Result<void> check_headers(const std::vector<events::HeaderField>& headers);
// "Name: value" as given to --header (spaces around the value are dropped).
Result<events::HeaderField> parse_header_argument(std::string_view text);

// A request's own fields, without the targets or prefixes: a known method, `url` (absolute
// http or https) or `target` but not both, `path` only with a target and starting with '/',
// headers and content type valid. Returns the request with its method normalized (upper case;
// POST stays "" so that a plain request is stored as before). One-line Errc::invalid_input.
Result<events::Request> check_request(events::Request request);

// A secret reference in a header value: "env:VAR" or "file:PATH".
bool is_secret_reference(std::string_view value);

}  // namespace api_broker::broker
