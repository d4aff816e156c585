#pragma once
// Where a redirect points and what is sent there (RFC 9110 §15.4): no Boost here, so that it
// is tested on its own.

#include <optional>
#include <string>
#include <string_view>

#include "api_broker/http/call.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/result.hpp"

namespace api_broker::http::detail {

// One hop: the origin (base_path "") and the path with its query.
struct Hop {
  Url url;
  std::string target;
};

// Resolves `location` (absolute "https://h/p?q", scheme-relative "//h/p", absolute-path "/p"
// or relative "p") against `from`, the URL whose base path plus `from_target` was requested.
// A fragment is dropped; dot segments are kept as they are. Errc::invalid_input with a one-line
// message for a Location that is not a usable http(s) URL.
Result<Hop> resolve_location(const Url& from, std::string_view from_target,
                             std::string_view location);

// The method of the next hop: 303 (and 301, 302 for POST, as every browser does) turn into GET,
// HEAD stays HEAD; 307 and 308 keep the method.
std::string redirected_method(unsigned status, std::string_view method);

// True for the statuses a client follows: 301, 302, 303, 307, 308.
bool is_followed_redirect(unsigned status);

// Same scheme, host and port: credentials may go along.
bool same_origin(const Url& a, const Url& b);

// Turns `call` into the call of the next hop of a `status` redirect to `hop`: its URL and
// target, the method redirected_method() says, the body only if the method is kept by a 307
// or 308 (else Content-Type goes with it), Authorization, Proxy-Authorization and Cookie only
// to the same origin.
void take_hop(Call& call, unsigned status, Hop hop);

}  // namespace api_broker::http::detail
