#pragma once
// The asynchronous HTTP/1.1 client the processor uses to call the remote API, over plain TCP
// or TLS (OpenSSL): keep-alive connection pools on one Boost.Asio executor, no thread per call.
// Code that only handles answers includes api_broker/http/response.hpp, which pulls in no Asio.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/http/call.hpp"
#include "api_broker/http/client_options.hpp"
#include "api_broker/http/response.hpp"
#include "api_broker/http/url.hpp"

namespace api_broker::http {

// Sends requests over per-(scheme, host, port) pools of keep-alive connections.
//
// Thread safety: none. The client lives on `executor` (an io_context's or a strand's): every
// method, the constructor and the destructor run on that executor's thread, and the `done`
// handlers run there too.
//
// Completion: each post() runs its `done` exactly once, never inline from post() or cancel(),
// with a Response (any status) or an Error: Errc::cancelled after cancel(), Errc::invalid_input
// for a bad method, target, header or redirect Location, or TLS files that cannot be loaded
// (https only), Errc::rejected "certificate verify failed: <reason>" (e.g. "certificate has
// expired", "hostname mismatch", "unable to get local issuer certificate") when the server's
// certificate fails verification, else Errc::unavailable with a one-line message:
//   "connection refused", "connection closed without a response", "call exceeded limit of N ms",
//   "response body larger than N bytes", "cannot resolve host 'h': ...", "cannot connect to
//   h:p: ...", "connect to h:p timed out after N ms", "connection closed during the response",
//   "malformed response: ...", "too many calls in flight (N)", "TLS handshake with h:p failed:
//   ...", "TLS handshake with h:p timed out after N ms".
//
// TLS: an https pool verifies the server's certificate against ClientOptions::tls (the
// system's trust store by default) and the URL's host name or address, names the host by SNI,
// and keeps the last session of its connections: a new connection (after a failure, or one
// more under load) resumes it instead of a full handshake. The handshake is part of the
// connect, bounded by connect_timeout and the call's limit.
// Interim answers (1xx but 101) are skipped: the call's answer is the final one that follows.
// 101 Switching Protocols is an answer like any other, and its connection is closed.
//
// Descriptors: a new connection that cannot be opened for want of a descriptor (EMFILE,
// ENFILE) or of socket memory is not a failure of the call: the call goes back to the head of
// the queue and waits for a connection of its pool to free (or for a new try after
// limits::http_shortage_retry_delay); until then the pool opens no more connections than it
// has. The call's `limit` still bounds the whole call.
// Destroying the client cancels every call without running their handlers (the owner is
// going away): no handler runs during or after destruction.
//
// Keep-alive: idle connections are reused newest first; one the server has closed is noticed
// before reuse (a non-blocking peek) and dropped. At most idle_connections_max stay idle per
// pool (the oldest is closed), each for at most idle_timeout. A call whose reused connection fails
// while the request is being written is sent once more on a new connection; once the request was
// written whole it is never sent again (the server may have acted on it, and the broker
// records every send). Every other failure is reported: retry policy belongs to the caller.
class Client {
 public:
  // REQUIRES: options.connections_max >= 1.
  Client(boost::asio::any_io_executor executor, const ClientOptions& options = {});
  ~Client();  // NOLINT(bugprone-exception-escape): see http_client.cpp
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends call.method call.url.base_path + call.target with its body and headers (see Call),
  // following redirects as call.redirects_max allows. `call.limit` bounds the whole call,
  // queueing, connecting, the TLS handshake and every hop included (0 = no bound); when it
  // elapses the call fails and its connection is closed.
  // REQUIRES: `done` is not empty; call.limit >= 0.
  CallId send(Call call, ResponseHandler done);

  // send() of POST url.base_path + target with `body` (Content-Type application/octet-stream
  // unless `headers` sets one) and `headers` (e.g. Idempotency-Key); no redirect followed.
  CallId post(const Url& url, std::string_view target, std::string body,
              const std::vector<Header>& headers, std::chrono::milliseconds limit,
              ResponseHandler done);

  // Fails call `id` with Errc::cancelled (its handler runs later, on the executor) and closes
  // its connection if the request was under way. No effect if `id` already finished.
  void cancel(CallId id);

  // Calls whose handler has not been scheduled yet.
  [[nodiscard]] std::size_t in_flight() const;
  // Connections open or opening, busy or idle, over all pools.
  [[nodiscard]] std::size_t open_connections() const;
  // Idle keep-alive connections, over all pools.
  [[nodiscard]] std::size_t idle_connections() const;
  // New connections that could not be opened for want of a descriptor or socket memory
  // since the client was made (their calls waited instead of failing).
  [[nodiscard]] std::uint64_t local_shortages() const;
  // TLS handshakes completed since the client was made, and how many of them resumed a
  // session (an abbreviated handshake).
  [[nodiscard]] std::uint64_t tls_handshakes() const;
  [[nodiscard]] std::uint64_t tls_resumed() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared so that pending Asio handlers can see it has gone
};

}  // namespace api_broker::http
