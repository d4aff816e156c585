#pragma once
// The bounds and hooks of the HTTP client, without the client: whoever configures it (the
// processor's options, the CLI) needs no Asio.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"

namespace api_broker::http {

// How https calls trust servers and present themselves. Server certificates are always
// verified, with the host name (or IP address) of the URL, and SNI names the host.
struct TlsOptions {
  // PEM certificates of the CAs trusted instead of the system's trust store (a private CA);
  // "" = the system's store (OpenSSL's default paths, /etc/ssl/certs on Debian).
  std::string ca_file;
  // Mutual TLS: a PEM certificate (chain) and its private key, presented when the server asks.
  // Both or neither.
  std::string client_cert_file;
  std::string client_key_file;

  friend bool operator==(const TlsOptions&, const TlsOptions&) = default;
};

// Loads the files of `options` as the client would: Errc::invalid_input with a one-line
// message (which file, what is wrong) for a missing or unreadable file, one that holds no PEM
// certificate or key, a key that does not match its certificate, or only one of the two.
// The CLI calls it at startup, so that a bad file is an error before any call.
Result<void> check_tls_options(const TlsOptions& options);

struct ClientOptions {
  // A longer body is cut to this many bytes and Response::truncated is set.
  std::size_t response_bytes_stored_max = limits::response_bytes_stored_default;
  // A longer body fails the call ("response body larger than N bytes"); it is not read.
  std::size_t body_bytes_read_max = limits::response_read_bytes_max;
  // Open connections per (host, port); further calls wait in a FIFO queue. At least 1. Each
  // takes a descriptor: see limits::http_connections_for.
  std::size_t connections_max = limits::http_connections_max;
  // Idle keep-alive connections kept per (host, port); one more going idle closes the oldest.
  std::size_t idle_connections_max = limits::http_idle_connections_max;
  // An idle connection unused this long is closed; 0 = kept until the server closes it.
  std::chrono::milliseconds idle_timeout = limits::http_idle_timeout;
  // Unfinished calls (queued or on a connection); post() beyond fails with Errc::unavailable.
  // Above requests_in_flight_max because an attempt that timed out may still be in flight.
  std::size_t calls_max = 4 * limits::requests_in_flight_max;
  // Resolving plus connecting one new connection; 0 = no bound other than the call's limit.
  std::chrono::milliseconds connect_timeout{5000};
  // Asked right before each request is written; false fails the call with Errc::fenced and
  // sends nothing (the processor: its lease is not known to be held). Unset: always send.
  std::function<bool()> may_send;
  // https: trust and client certificate. A client whose files cannot be loaded fails every
  // https call with the check_tls_options() error; plain http calls are not affected.
  TlsOptions tls;
};

}  // namespace api_broker::http
