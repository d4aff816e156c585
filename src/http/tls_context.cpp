#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "tls_context.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "openssl_errors.hpp"

namespace api_broker::http::detail {
namespace {

namespace ssl = boost::asio::ssl;

Result<void> load_trust(SSL_CTX* context, const std::string& ca_file) {
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
      return fail(Errc::invalid_input, "cannot load the system's trust store: " + openssl_reason());
    }
    return {};
  }
  if (auto readable = check_readable(ca_file, "CA file"); !readable) return readable;
  if (SSL_CTX_load_verify_locations(context, ca_file.c_str(), nullptr) != 1) {
    return fail(Errc::invalid_input, fmt::format("CA file '{}' holds no usable PEM certificate: {}",
                                                 ca_file, openssl_reason()));
  }
  return {};
}

Result<void> load_client_certificate(SSL_CTX* context, const TlsOptions& options) {
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return fail(Errc::invalid_input,
                "a client certificate needs its key and a key its certificate (give both)");
  }
  if (options.client_cert_file.empty()) return {};
  const std::string& cert = options.client_cert_file;
  const std::string& key = options.client_key_file;
  if (auto readable = check_readable(cert, "client certificate"); !readable) return readable;
  if (auto readable = check_readable(key, "client key"); !readable) return readable;
  if (SSL_CTX_use_certificate_chain_file(context, cert.c_str()) != 1) {
    return fail(Errc::invalid_input, fmt::format("client certificate '{}' is not a PEM "
                                                 "certificate: {}",
                                                 cert, openssl_reason()));
  }
  if (SSL_CTX_use_PrivateKey_file(context, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(Errc::invalid_input,
                  fmt::format("client key '{}' does not match the certificate '{}'", key, cert));
    }
    return fail(Errc::invalid_input,
                fmt::format("client key '{}' is not a PEM private key: {}", key, openssl_reason()));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(Errc::invalid_input,
                fmt::format("client key '{}' does not match the certificate '{}'", key, cert));
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const TlsOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  // Sessions are kept by the client's pools (SSL_get1_session), not in OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  if (auto trusted = load_trust(native, options.ca_file); !trusted) {
    return fail(std::move(trusted).error());
  }
  if (auto loaded = load_client_certificate(native, options); !loaded) {
    return fail(std::move(loaded).error());
  }
  return context;
}

Result<void> prepare_handshake(SSL* ssl, const std::string& host, SSL_SESSION* session) {
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (not_an_address) {
    // RFC 6066: SNI names a host, never an address.
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 ||
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
      return fail(Errc::unavailable, "cannot set up TLS: " + openssl_reason());
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  } else if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    return fail(Errc::unavailable, "cannot set up TLS: " + openssl_reason());
  }
  if (session != nullptr && SSL_set_session(ssl, session) != 1) ERR_clear_error();
  return {};
}

Error handshake_error(SSL* ssl, boost::system::error_code ec, const std::string& authority) {
  const long verified = SSL_get_verify_result(ssl);
  ERR_clear_error();
  if (verified != X509_V_OK) {
    return Error{Errc::rejected, fmt::format("certificate verify failed: {}",
                                             X509_verify_cert_error_string(verified))};
  }
  std::string reason = ec.message();
  if (ec == boost::asio::ssl::error::stream_truncated || ec == boost::asio::error::eof) {
    reason = "the server closed the connection";
  }
  return Error{Errc::unavailable,
               fmt::format("TLS handshake with {} failed: {}", authority, reason)};
}

}  // namespace api_broker::http::detail

namespace api_broker::http {

Result<void> check_tls_options(const TlsOptions& options) {
  auto context = detail::make_tls_context(options);
  if (!context) return fail(std::move(context).error());
  return {};
}

}  // namespace api_broker::http
