#pragma once
// A server's TLS context (the brittle API, api-broker serve): its certificate and key and, for
// mutual TLS, the CA whose client certificates it requires.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "api_broker/result.hpp"

namespace api_broker::http::detail {

struct TlsFiles {
  std::string cert;       // PEM certificate chain
  std::string key;        // PEM private key
  std::string client_ca;  // "" = no client certificate asked; else one signed by it required
};

// A server context for `files` (TLS 1.2 or later, session tickets on). Errc::invalid_input with
// a one-line message naming the file that cannot be read or used.
Result<std::unique_ptr<boost::asio::ssl::context>> make_server_tls(const TlsFiles& files);

}  // namespace api_broker::http::detail
