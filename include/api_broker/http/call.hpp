#pragma once
// What one call of the HTTP client sends, without the client: the processor (and whoever builds
// calls from requests) fills it in and needs no Asio.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api_broker/http/response.hpp"
#include "api_broker/http/url.hpp"

namespace api_broker::http {

struct Call {
  // GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS; another is Errc::invalid_input.
  std::string method = "POST";
  Url url;             // scheme, host, port and base path
  std::string target;  // appended to url.base_path: "/orders?id=1"; "" = the base path itself
  std::string body;    // none with GET or HEAD (Errc::invalid_input)
  // Sent as given, after Host and User-Agent (a caller's Host or User-Agent replaces them).
  // Content-Length and Transfer-Encoding are the client's; a body without Content-Type is sent
  // as application/octet-stream.
  std::vector<Header> headers;
  // Bounds the whole call: queueing, connecting, the TLS handshake, every redirect hop
  // (0 = no bound).
  std::chrono::milliseconds limit{0};
  // 0: a 3xx is the answer (Response::location says where it points). N: up to N hops are
  // followed: 301, 302 and 303 as GET without a body (HEAD stays HEAD), 307 and 308 with the
  // same method and body. Authorization, Proxy-Authorization and Cookie are not sent to
  // another origin (scheme, host, port).
  std::uint32_t redirects_max = 0;
  // Asked before each hop with where it goes (the origin, and the path with its query): false
  // ends the call with the 3xx as its answer, as if no hop were left (e.g. a destination no
  // --allow-url prefix allows). Unset: every hop may be followed.
  std::function<bool(const Url& url, const std::string& target)> may_follow;
};

}  // namespace api_broker::http
