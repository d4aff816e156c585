#pragma once
// The client's side of TLS: its OpenSSL context (trust, client certificate), what a new
// connection sets before its handshake (SNI, the name to verify, a session to resume) and how
// a failed handshake reads.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <string>

#include "api_broker/http/client_options.hpp"
#include "api_broker/result.hpp"

namespace api_broker::http::detail {

// A client context: TLS 1.2 or later, peer verification on, the trust of `options` (the
// system's store or the CA file) and its client certificate. Errc::invalid_input as
// check_tls_options() says.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsOptions& options);

// Before the handshake of a connection to `host`: SNI (for a name, not an address), the
// name or address the certificate must match, and `session` to resume (may be null).
// Errc::unavailable if OpenSSL refuses (out of memory).
Result<void> prepare_handshake(SSL* ssl, const std::string& host, SSL_SESSION* session);

// A failed handshake: Errc::rejected "certificate verify failed: <reason>" when the server's
// certificate failed verification (retrying cannot help), else Errc::unavailable
// "TLS handshake with <authority> failed: <reason>".
Error handshake_error(SSL* ssl, boost::system::error_code ec, const std::string& authority);

}  // namespace api_broker::http::detail
