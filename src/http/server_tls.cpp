#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "server_tls.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "openssl_errors.hpp"

namespace api_broker::http::detail {
namespace {

namespace ssl = boost::asio::ssl;

Result<void> require_client_certificates(SSL_CTX* context, const std::string& client_ca) {
  if (auto readable = check_readable(client_ca, "client CA file"); !readable) return readable;
  if (SSL_CTX_load_verify_locations(context, client_ca.c_str(), nullptr) != 1) {
    return fail(Errc::invalid_input, fmt::format("client CA file '{}' holds no PEM certificate: {}",
                                                 client_ca, openssl_reason()));
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return {};
}

}  // namespace

Result<std::unique_ptr<ssl::context>> make_server_tls(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty()) {
    return fail(Errc::invalid_input, "TLS needs both a certificate and its key");
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Resumption of a session made with a client certificate needs an id context (else OpenSSL
  // refuses it); one name for this server's sessions.
  static constexpr unsigned char session_context[] = "api-broker";
  SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);
  if (auto readable = check_readable(files.cert, "certificate"); !readable) {
    return fail(std::move(readable).error());
  }
  if (auto readable = check_readable(files.key, "key"); !readable) {
    return fail(std::move(readable).error());
  }
  if (SSL_CTX_use_certificate_chain_file(native, files.cert.c_str()) != 1) {
    return fail(Errc::invalid_input, fmt::format("certificate '{}' is not a PEM certificate: {}",
                                                 files.cert, openssl_reason()));
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(Errc::invalid_input, fmt::format("key '{}' does not match the certificate '{}'",
                                                   files.key, files.cert));
    }
    return fail(Errc::invalid_input,
                fmt::format("key '{}' is not a PEM private key: {}", files.key, openssl_reason()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(Errc::invalid_input,
                fmt::format("key '{}' does not match the certificate '{}'", files.key, files.cert));
  }
  if (!files.client_ca.empty()) {
    if (auto required = require_client_certificates(native, files.client_ca); !required) {
      return fail(std::move(required).error());
    }
  }
  return context;
}

}  // namespace api_broker::http::detail
