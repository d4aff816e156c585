#pragma once
// The address of the remote API: http://host[:port][/base] or https://host[:port][/base]. No
// Boost here, so the CLI and the configuration code can validate a URL without pulling in Asio.

#include <cstdint>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::http {

enum class Scheme : std::uint8_t { http, https };

struct Url {
  std::string host;              // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 80;       // never 0
  std::string base_path;         // "" or "/a/b": starts with '/', no trailing '/', no query
  Scheme scheme = Scheme::http;  // last, so that {host, port, base_path} stays plain http

  friend bool operator==(const Url&, const Url&) = default;
};

// The port a scheme uses when the URL names none: 80 for http, 443 for https.
std::uint16_t default_port(Scheme scheme);

// Parses http[s]://host[:port][/base], with IPv6 hosts in brackets (https://[::1]:8443/v1).
// The scheme is case-insensitive; the port defaults to the scheme's; a trailing '/' is dropped
// from the path. Another scheme, a missing host, a bad port, user information, a query or
// fragment, spaces and control characters are Errc::invalid_input with a one-line message that
// says which.
Result<Url> parse_url(std::string_view text);

// "http://host:port/base" (or https), with brackets around an IPv6 host; parse_url() accepts it
// back.
std::string to_string(const Url& url);

// The Host header value for `url`: "host" on the scheme's default port, else "host:port"; IPv6
// in brackets.
std::string host_header(const Url& url);

}  // namespace api_broker::http
