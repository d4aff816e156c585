#pragma once
// The asynchronous HTTP/1.1 client the processor uses to call the remote API: keep-alive
// connection pools on one Boost.Asio executor, no thread per call.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/http/retry_after.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"

namespace api_broker::http {

// A complete HTTP response, whatever its status: a 503 is a Response, not an Error.
struct Response {
  int status = 0;
  std::string body;                           // at most ClientOptions::body_bytes_stored_max
  bool truncated = false;                     // true: `body` is the first part of the body
  std::size_t body_bytes = 0;                 // size of the whole body as received (decoded)
  std::optional<double> retry_after_seconds;  // from Retry-After; >= 0; nullopt if absent/bad
};

struct ClientOptions {
  // A longer body is cut to this many bytes and Response::truncated is set.
  std::size_t body_bytes_stored_max = limits::response_bytes_stored_default;
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
};

enum class CallId : std::uint64_t {};

using Header = std::pair<std::string, std::string>;
using ResponseHandler = std::function<void(Result<Response>)>;

// Sends POST requests over per-(host, port) pools of keep-alive connections.
//
// Thread safety: none. The client lives on `executor` (an io_context's or a strand's): every
// method, the constructor and the destructor run on that executor's thread, and the `done`
// handlers run there too.
//
// Completion: each post() runs its `done` exactly once, never inline from post() or cancel(),
// with a Response (any status) or an Error: Errc::cancelled after cancel(), Errc::invalid_input
// for a bad target or header, else Errc::unavailable with a one-line message:
//   "connection refused", "connection closed without a response", "call exceeded limit of N ms",
//   "response body larger than N bytes", "cannot resolve host 'h': ...", "cannot connect to
//   h:p: ...", "connect to h:p timed out after N ms", "connection closed during the response",
//   "malformed response: ...", "too many calls in flight (N)".
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
  Client(boost::asio::any_io_executor executor, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends POST url.base_path + target with `body` (Content-Type application/octet-stream
  // unless `headers` sets one) and `headers` (e.g. Idempotency-Key). Host, User-Agent and
  // Content-Length are set by the client; `headers` may not set Content-Length or
  // Transfer-Encoding. `limit` bounds the whole call, queueing and connecting included
  // (0 = no bound); when it elapses the call fails and its connection is closed.
  // REQUIRES: `done` is not empty; limit >= 0.
  CallId post(const Url& url, std::string_view target, std::string body,
              const std::vector<Header>& headers, std::chrono::milliseconds limit,
              ResponseHandler done);

  // Fails call `id` with Errc::cancelled (its handler runs later, on the executor) and closes
  // its connection if the request was under way. No effect if `id` already finished.
  void cancel(CallId id);

  // Calls whose handler has not been scheduled yet.
  std::size_t in_flight() const;
  // Connections open or opening, busy or idle, over all pools.
  std::size_t open_connections() const;
  // Idle keep-alive connections, over all pools.
  std::size_t idle_connections() const;
  // New connections that could not be opened for want of a descriptor or socket memory
  // since the client was made (their calls waited instead of failing).
  std::uint64_t local_shortages() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared so that pending Asio handlers can see it has gone
};

}  // namespace api_broker::http
