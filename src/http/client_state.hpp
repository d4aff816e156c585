#pragma once
// The state of the HTTP client: the calls, the connections that serve them and the
// per-(scheme, host, port) pools that own both.
//
// Ownership: the client owns the pools, each pool owns its connections (a list), the client
// owns the unfinished calls (a map by id). A pending Asio operation keeps alive what it
// touches (the Connection with its socket, buffer and parser; the CallState with its request and
// timer) by holding a shared_ptr. A connection that is closed is taken out of its pool first
// (state closed); handlers that find their connection closed return at once.
//
// Invariants: a connection that is connecting, writing or reading serves exactly one call and
// that call points back at it; an idle connection serves none and is in its pool's idle list;
// a call is either queued in its pool, or on one connection, or being connected for.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/http/call.hpp"
#include "api_broker/http/response.hpp"
#include "capped_body.hpp"
#include "request.hpp"

namespace api_broker::http::detail {

using Parser = boost::beast::http::response_parser<CappedBody>;

struct Connection;
struct Pool;

struct CallState {
  CallId id{};
  Pool* pool = nullptr;
  Request request;
  Call spec;  // what was asked, for a redirect hop; its body only if a hop may need it
  std::uint32_t redirects_left = 0;
  std::chrono::milliseconds limit{0};
  std::optional<boost::asio::steady_timer> deadline;  // armed when limit > 0
  ResponseHandler done;
  Connection* connection = nullptr;  // the connection serving it, if any
  std::list<std::shared_ptr<CallState>>::iterator queue_position;
  bool queued = false;
  bool retried = false;               // already sent again after a stale keep-alive connection
  std::size_t interim_responses = 0;  // 1xx answers skipped so far
  bool finished = false;
};

enum class ConnectionState : std::uint8_t { connecting, writing, reading, idle, closed };

struct Connection {
  Connection(const boost::asio::any_io_executor& executor, Pool* owner)
      : pool(owner), socket(executor), connect_timer(executor) {}

  Pool* pool;
  boost::asio::ip::tcp::socket socket;
  // Over `socket` on an https pool, from the TCP connect on; declared after it: goes first.
  std::optional<boost::beast::ssl_stream<boost::asio::ip::tcp::socket&>> tls;
  bool handshaking = false;    // connected, TLS handshake under way (state connecting)
  bool session_saved = false;  // its TLS session was kept for the pool's next connections
  boost::asio::steady_timer connect_timer;
  std::optional<boost::asio::ip::tcp::resolver> resolver;
  boost::beast::flat_buffer buffer;
  std::optional<Parser> parser;
  std::shared_ptr<CallState> call;
  ConnectionState state = ConnectionState::connecting;
  bool reused = false;           // the current call took it from the idle list
  std::uint64_t idle_epoch = 0;  // counts the times it went idle: tells a stale idle timer
  std::list<std::shared_ptr<Connection>>::iterator position;  // in pool->connections
};

// Frees an OpenSSL session: the pool keeps one to resume on its next connection.
struct TlsSessionFree {
  void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
};
using TlsSession = std::unique_ptr<SSL_SESSION, TlsSessionFree>;

struct Pool {
  Scheme scheme = Scheme::http;
  std::string host;
  std::uint16_t port = 0;
  TlsSession tls_session;       // https: the latest resumable session of its connections
  std::size_t tls_opening = 0;  // https: connections connecting or in their TLS handshake
  std::string authority;        // host:port, for messages
  std::optional<boost::asio::ip::address> address;  // set when host is an IP address: no resolver
  std::optional<boost::asio::ip::tcp::resolver::results_type>
      resolved;  // else the last addresses found
  std::chrono::steady_clock::time_point resolved_at;
  std::list<std::shared_ptr<Connection>> connections;  // every open connection
  std::vector<Connection*> idle;                       // LIFO: the most recent is warmest
  std::list<std::shared_ptr<CallState>> waiting;       // FIFO
  // Set when a new connection found no descriptor: open no more than this until the retry
  // timer fires.
  std::optional<std::size_t> shortage_cap;
  std::optional<boost::asio::steady_timer> shortage_retry;
};

}  // namespace api_broker::http::detail
