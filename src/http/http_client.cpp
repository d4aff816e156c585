// The HTTP client: per-(scheme, host, port) pools of keep-alive connections, driven by Asio
// callbacks on the owner's executor. The state it works on, with its ownership and invariants, is
// in client_state.hpp.
//
// A pending Asio operation reaches Impl through a weak_ptr, so that the handlers of a
// destroyed client do nothing.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/http/http_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "api_broker/http/retry_after.hpp"
#include "api_broker/limits.hpp"
#include "client_state.hpp"
#include "redirect.hpp"
#include "tls_context.hpp"
#include "transport_errors.hpp"

namespace api_broker::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using detail::CallState;
using detail::Connection;
using detail::ConnectionState;
using detail::Parser;
using detail::Pool;

// New connections to a host name reuse its addresses for this long instead of resolving it
// again (thousands of connections open at once when the processor starts).
constexpr std::chrono::seconds resolved_addresses_ttl{30};

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::any_io_executor executor, ClientOptions options)
      : executor_(std::move(executor)), options_(std::move(options)) {}

  CallId send(Call spec, ResponseHandler done) {
    API_BROKER_ASSERT(!closed_);
    API_BROKER_ASSERT(done);
    API_BROKER_ASSERT(spec.limit.count() >= 0);
    const CallId id{++next_id_};
    // The body goes into the request; a copy stays only if a redirect hop may send it again.
    std::string body = spec.redirects_max > 0 ? spec.body : std::move(spec.body);
    auto request =
        detail::build_request(spec.method, spec.url, spec.target, std::move(body), spec.headers);
    if (!request) {
      deliver_later(std::move(done), fail(request.error()));
      return id;
    }
    if (auto usable = check_scheme(spec.url); !usable) {
      deliver_later(std::move(done), fail(std::move(usable).error()));
      return id;
    }
    if (calls_.size() >= options_.calls_max) {
      deliver_later(std::move(done),
                    fail(Errc::unavailable,
                         fmt::format("too many calls in flight ({})", options_.calls_max)));
      return id;
    }
    Pool& pool = pool_for(spec.url);
    auto call = std::make_shared<CallState>();
    call->id = id;
    call->pool = &pool;
    call->request = std::move(request).value();
    call->limit = spec.limit;
    call->redirects_left = spec.redirects_max;
    call->spec = std::move(spec);
    call->done = std::move(done);
    calls_.emplace(id, call);
    if (call->limit.count() > 0) {
      call->deadline.emplace(executor_, call->limit);
      call->deadline->async_wait([weak = weak_from_this(), call](error_code) {
        auto self = weak.lock();
        if (!self || self->closed_ || call->finished) return;
        self->abort_call(call,
                         fail(Errc::unavailable,
                              fmt::format("call exceeded limit of {} ms", call->limit.count())),
                         Delivery::now);
      });
    }
    enqueue(pool, call);
    return id;
  }

  void cancel(CallId id) {
    API_BROKER_ASSERT(!closed_);
    const auto found = calls_.find(id);
    if (found == calls_.end()) return;
    std::shared_ptr<CallState> call = found->second;  // complete() erases the map's copy
    abort_call(call, fail(Errc::cancelled, "call cancelled"), Delivery::later);
  }

  // The client is going away: stop everything, run no handler.
  void shutdown() {
    closed_ = true;
    for (auto& [id, call] : calls_) {
      if (call->deadline) call->deadline->cancel();
      call->done = nullptr;
      call->connection = nullptr;
    }
    calls_.clear();
    for (auto& [key, pool] : pools_) {
      for (auto& connection : pool->connections) {
        connection->state = ConnectionState::closed;
        connection->call = nullptr;
        close(*connection);
      }
      pool->connections.clear();
      pool->idle.clear();
      pool->waiting.clear();
      if (pool->shortage_retry) pool->shortage_retry->cancel();
    }
    pools_.clear();
  }

  std::size_t in_flight() const { return calls_.size(); }

  std::size_t open_connections() const {
    std::size_t open = 0;
    for (const auto& [key, pool] : pools_) open += pool->connections.size();
    return open;
  }

  std::size_t idle_connections() const {
    std::size_t idle = 0;
    for (const auto& [key, pool] : pools_) idle += pool->idle.size();
    return idle;
  }

  std::uint64_t local_shortages() const { return local_shortages_; }
  std::uint64_t tls_handshakes() const { return tls_handshakes_; }
  std::uint64_t tls_resumed() const { return tls_resumed_; }

 private:
  enum class Delivery : std::uint8_t { now, later };

  // https needs the TLS context, made on the first https call: a client that only calls
  // plain http loads no certificate.
  Result<void> check_scheme(const Url& url) {
    if (url.scheme != Scheme::https) return {};
    if (!tls_context_) tls_context_.emplace(detail::make_tls_context(options_.tls));
    if (!*tls_context_) return fail(tls_context_->error());
    return {};
  }

  void enqueue(Pool& pool, const std::shared_ptr<CallState>& call) {
    pool.waiting.push_back(call);
    call->queue_position = std::prev(pool.waiting.end());
    call->queued = true;
    dispatch(pool);
  }

  Pool& pool_for(const Url& url) {
    std::string key = fmt::format("{}://{}:{}", url.scheme == Scheme::https ? "https" : "http",
                                  url.host, url.port);
    auto& pool = pools_[key];
    if (!pool) {
      pool = std::make_unique<Pool>();
      pool->scheme = url.scheme;
      pool->host = url.host;
      pool->port = url.port;
      pool->authority = url.host.find(':') == std::string::npos
                            ? fmt::format("{}:{}", url.host, url.port)
                            : fmt::format("[{}]:{}", url.host, url.port);
      error_code ec;
      const auto address = asio::ip::make_address(url.host, ec);
      if (!ec) pool->address = address;
    }
    return *pool;
  }

  // Starts as many waiting calls as idle connections and the connection bound allow.
  // Never completes a call: handlers run only from Asio completions.
  void dispatch(Pool& pool) {
    while (!pool.waiting.empty()) {
      if (!pool.idle.empty()) {
        Connection* connection = pool.idle.back();
        API_BROKER_ASSERT(connection->state == ConnectionState::idle);
        if (detail::is_stale(connection->socket)) {
          drop(*connection);
          continue;
        }
        pool.idle.pop_back();
        ++connection->idle_epoch;  // its idle timer, if it fires, finds it busy
        connection->connect_timer.cancel();
        connection->reused = true;
        send(*connection->position, dequeue(pool));
      } else if (pool.connections.size() <
                     std::min(options_.connections_max,
                              pool.shortage_cap.value_or(options_.connections_max)) &&
                 (pool.scheme != Scheme::https ||
                  pool.tls_opening < limits::tls_connections_opening_max)) {
        open_connection(pool, dequeue(pool));
      } else {
        break;
      }
    }
  }

  std::shared_ptr<CallState> dequeue(Pool& pool) {
    auto call = std::move(pool.waiting.front());
    pool.waiting.pop_front();
    API_BROKER_ASSERT(call->queued && !call->finished);
    call->queued = false;
    return call;
  }

  static void attach(Connection& connection, const std::shared_ptr<CallState>& call) {
    API_BROKER_ASSERT(connection.call == nullptr && call->connection == nullptr);
    connection.call = call;
    call->connection = &connection;
  }

  static std::shared_ptr<CallState> detach(Connection& connection) {
    auto call = std::move(connection.call);
    connection.call = nullptr;
    if (call) call->connection = nullptr;
    return call;
  }

  static void close(Connection& connection) {
    // Closing without a close_notify would make OpenSSL mark the session not resumable (a
    // "bad" session) when the stream is freed: declare the shutdown done instead.
    if (connection.tls) SSL_set_shutdown(connection.tls->native_handle(), SSL_SENT_SHUTDOWN);
    error_code ignored;
    connection.socket.close(ignored);
    connection.connect_timer.cancel();
    if (connection.resolver) connection.resolver->cancel();
  }

  // Closes `connection` and takes it out of its pool. REQUIRES: no call attached.
  void drop(Connection& connection) {
    API_BROKER_ASSERT(connection.call == nullptr);
    Pool& pool = *connection.pool;
    if (connection.state == ConnectionState::connecting && pool.scheme == Scheme::https) {
      --pool.tls_opening;
    }
    if (connection.state == ConnectionState::idle) {
      std::erase(pool.idle, &connection);
    }
    connection.state = ConnectionState::closed;
    close(connection);
    pool.connections.erase(connection.position);  // may destroy it: touch nothing after
  }

  // Wraps a handler for an operation on `connection`: it runs only while the client lives
  // and the connection is open.
  template <class Handler>
  auto on(const std::shared_ptr<Connection>& connection, Handler handler) {
    return [weak = weak_from_this(), connection, handler = std::move(handler)](auto&&... args) {
      auto self = weak.lock();
      if (!self || self->closed_ || connection->state == ConnectionState::closed) return;
      handler(*self, connection, std::forward<decltype(args)>(args)...);
    };
  }

  void open_connection(Pool& pool, const std::shared_ptr<CallState>& call) {
    auto connection = std::make_shared<Connection>(executor_, &pool);
    if (pool.scheme == Scheme::https) ++pool.tls_opening;
    pool.connections.push_front(connection);
    connection->position = pool.connections.begin();
    attach(*connection, call);
    if (options_.connect_timeout.count() > 0) {
      connection->connect_timer.expires_after(options_.connect_timeout);
      connection->connect_timer.async_wait(
          on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec) {
            if (ec || c->state != ConnectionState::connecting) return;
            self.connection_failed(
                c,
                fmt::format("{} {} timed out after {} ms",
                            c->handshaking ? "TLS handshake with" : "connect to",
                            c->pool->authority, self.options_.connect_timeout.count()),
                false);
          }));
    }
    if (pool.address) {
      connection->socket.async_connect(
          tcp::endpoint(*pool.address, pool.port),
          on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec) {
            self.on_connect(c, ec);
          }));
      return;
    }
    if (pool.resolved &&
        std::chrono::steady_clock::now() - pool.resolved_at < resolved_addresses_ttl) {
      connect(connection, *pool.resolved);
      return;
    }
    connection->resolver.emplace(executor_);
    connection->resolver->async_resolve(
        pool.host, std::to_string(pool.port),
        on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec,
                          const tcp::resolver::results_type& results) {
          if (ec) {
            self.connection_failed(
                c, fmt::format("cannot resolve host '{}': {}", c->pool->host, ec.message()), false);
            return;
          }
          c->pool->resolved = results;
          c->pool->resolved_at = std::chrono::steady_clock::now();
          self.connect(c, results);
        }));
  }

  // Tries each address in turn.
  void connect(const std::shared_ptr<Connection>& connection,
               const tcp::resolver::results_type& addresses) {
    asio::async_connect(
        connection->socket, addresses,
        on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec,
                          const tcp::endpoint&) { self.on_connect(c, ec); }));
  }

  void on_connect(const std::shared_ptr<Connection>& connection, error_code ec) {
    API_BROKER_ASSERT(connection->state == ConnectionState::connecting);
    if (detail::is_local_shortage(ec)) {
      wait_for_a_descriptor(connection);
      return;
    }
    if (ec) {
      connection->pool->resolved.reset();  // the name may point elsewhere now
      connection_failed(
          connection,
          ec == asio::error::connection_refused
              ? std::string("connection refused")
              : fmt::format("cannot connect to {}: {}", connection->pool->authority, ec.message()),
          false);
      return;
    }
    connection->resolver.reset();
    error_code ignored;
    connection->socket.set_option(tcp::no_delay(true), ignored);
    connection->reused = false;
    if (connection->pool->scheme == Scheme::https) {
      handshake(connection);  // connect_timeout bounds it too
      return;
    }
    connection->connect_timer.cancel();
    write(connection);
  }

  // The TLS handshake of a new https connection, resuming the pool's last session if it has
  // one. A certificate that fails verification fails the call as Errc::rejected.
  void handshake(const std::shared_ptr<Connection>& connection) {
    Pool& pool = *connection->pool;
    connection->tls.emplace(connection->socket, ***tls_context_);
    connection->handshaking = true;
    SSL* ssl = connection->tls->native_handle();
    if (auto ready = detail::prepare_handshake(ssl, pool.host, pool.tls_session.get()); !ready) {
      connection_failed(connection, std::move(ready).error().message, false);
      return;
    }
    connection->tls->async_handshake(
        boost::asio::ssl::stream_base::client,
        on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec) {
          SSL* handle = c->tls->native_handle();
          if (ec) {
            Error error = detail::handshake_error(handle, ec, c->pool->authority);
            self.connection_failed(c, std::move(error.message), false, error.code);
            return;
          }
          c->handshaking = false;
          c->connect_timer.cancel();
          ++self.tls_handshakes_;
          if (SSL_session_reused(handle) == 1) ++self.tls_resumed_;
          --c->pool->tls_opening;
          Pool& own = *c->pool;
          self.write(c);  // leaves the connecting state (or fails the call and drops it)
          self.dispatch(own);
        }));
  }

  // Runs `operation` on the connection's TLS stream if it has one, else on its socket.
  template <class Operation>
  static void with_stream(Connection& connection, Operation operation) {
    if (connection.tls) {
      operation(*connection.tls);
    } else {
      operation(connection.socket);
    }
  }

  // Keeps the TLS session of `connection` for the next connections of its pool, once: after a
  // response, so that a TLS 1.3 session ticket (sent after the handshake) has been read.
  static void save_tls_session(Connection& connection) {
    if (!connection.tls || connection.session_saved) return;
    // A copy: the connection's own session object changes with it (and is marked not
    // resumable if the connection ends badly).
    SSL_SESSION* current = SSL_get0_session(connection.tls->native_handle());
    if (current == nullptr || SSL_SESSION_is_resumable(current) != 1) return;
    detail::TlsSession session(SSL_SESSION_dup(current));
    if (!session) return;
    connection.pool->tls_session = std::move(session);
    connection.session_saved = true;
  }

  // Puts `call` on the idle `connection` and sends it.
  void send(const std::shared_ptr<Connection>& connection, const std::shared_ptr<CallState>& call) {
    attach(*connection, call);
    write(connection);
  }

  void write(const std::shared_ptr<Connection>& connection) {
    connection->state = ConnectionState::writing;
    auto& call = connection->call;
    API_BROKER_ASSERT(call != nullptr);
    // The last moment before the request leaves: a call may have waited here (for a
    // connection, or while this process was paused) past the time it may still be sent.
    if (options_.may_send && !options_.may_send()) {
      const std::shared_ptr<CallState> held = call;  // abort_call() detaches it from the connection
      abort_call(held, fail(Errc::fenced, "not sent: the sender may no longer send it"),
                 Delivery::later);  // write() may run inside post()
      return;
    }
    // The handler holds the call: the serializer reads its request until the write ends.
    auto written = on(connection, [call](Impl& self, const std::shared_ptr<Connection>& c,
                                         error_code ec, std::size_t) {
      API_BROKER_ASSERT(c->call == call);
      if (ec) {
        self.connection_failed(c, detail::write_error(ec), c->reused);
        return;
      }
      self.read(c);
    });
    with_stream(*connection, [&](auto& stream) {
      bhttp::async_write(stream, call->request, std::move(written));
    });
  }

  void read(const std::shared_ptr<Connection>& connection) {
    connection->state = ConnectionState::reading;
    auto& parser = connection->parser.emplace();
    parser.header_limit(limits::http_response_header_bytes_max);
    parser.body_limit(options_.body_bytes_read_max);
    parser.get().body().stored_max = options_.response_bytes_stored_max;
    parser.get().body().read_max = options_.body_bytes_read_max;
    // A response to HEAD has the headers of a GET and no body, whatever Content-Length says.
    if (connection->call->request.method() == bhttp::verb::head) parser.skip(true);
    auto done = on(connection, [](Impl& self, const std::shared_ptr<Connection>& c, error_code ec,
                                  std::size_t) { self.on_read(c, ec); });
    with_stream(*connection, [&](auto& stream) {
      bhttp::async_read(stream, connection->buffer, parser, std::move(done));
    });
  }

  void on_read(const std::shared_ptr<Connection>& connection, error_code ec) {
    Parser& parser = *connection->parser;
    if (ec) {
      const bool got_some = parser.got_some() || connection->buffer.size() > 0;
      // Never sent again once the whole request was written: the server may have received
      // it (the brittle API's silent failure reads the request, then closes), and a second,
      // unrecorded send would break "the log never misses an attempt that the API saw".
      connection_failed(connection, detail::read_error(ec, got_some, options_.body_bytes_read_max),
                        false);
      return;
    }
    auto& message = parser.get();
    // An interim answer (100 Continue, 103 Early Hints) comes before the final one, on the
    // same connection: skip it and read on (RFC 9110 15.2). 101 Switching Protocols is no
    // interim answer for us: it ends the call as an answer, and the connection with it.
    const unsigned status = message.result_int();
    if (status / 100 == 1 && status != 101) {
      auto& call = *connection->call;
      if (++call.interim_responses > limits::http_interim_responses_max) {
        connection_failed(connection,
                          fmt::format("malformed response: more than {} interim (1xx) responses",
                                      limits::http_interim_responses_max),
                          false);
        return;
      }
      read(connection);
      return;
    }
    Response response;
    response.status = static_cast<int>(message.result_int());
    response.body_bytes = message.body().size;
    response.truncated = message.body().size > message.body().data.size();
    response.body = std::move(message.body().data);
    if (const auto found = message.find(bhttp::field::retry_after); found != message.end()) {
      const auto value = found->value();
      response.retry_after_seconds = parse_retry_after(std::string_view(value.data(), value.size()),
                                                       std::chrono::system_clock::now());
    }
    if (response.status / 100 == 3) {
      if (const auto found = message.find(bhttp::field::location); found != message.end()) {
        response.location = std::string(found->value());
      }
    }
    save_tls_session(*connection);
    // Bytes after the response would be a second, unrequested response: do not reuse.
    const bool keep_alive =
        parser.keep_alive() && connection->buffer.size() == 0 && response.status != 101;
    connection->parser.reset();

    auto call = detach(*connection);
    Pool& pool = *connection->pool;
    if (keep_alive) {
      make_idle(connection);
    } else {
      drop(*connection);
    }
    dispatch(pool);
    while (pool.idle.size() > options_.idle_connections_max) drop(*pool.idle.front());  // oldest
    if (follows_redirect(call, response)) return;
    complete(call, std::move(response), Delivery::now);
  }

  // With hops left, sends `call` on to where the redirect `response` points, within the same
  // limit, and returns true (the call goes on, or failed if the Location is unusable).
  bool follows_redirect(const std::shared_ptr<CallState>& call, const Response& response) {
    const auto status = static_cast<unsigned>(response.status);
    if (call->redirects_left == 0 || !detail::is_followed_redirect(status) || !response.location) {
      return false;
    }
    Call& spec = call->spec;
    auto hop = detail::resolve_location(spec.url, spec.target, *response.location);
    if (!hop) {
      complete(call, fail(std::move(hop).error()), Delivery::now);
      return true;
    }
    if (spec.may_follow && !spec.may_follow(hop->url, hop->target)) return false;
    detail::take_hop(spec, status, std::move(hop).value());
    auto request =
        detail::build_request(spec.method, spec.url, spec.target, spec.body, spec.headers);
    if (!request) {
      complete(call, fail(std::move(request).error()), Delivery::now);
      return true;
    }
    if (auto usable = check_scheme(spec.url); !usable) {
      complete(call, fail(std::move(usable).error()), Delivery::now);
      return true;
    }
    --call->redirects_left;
    call->request = std::move(request).value();
    call->retried = false;
    call->interim_responses = 0;
    call->pool = &pool_for(spec.url);
    enqueue(*call->pool, call);
    return true;
  }

  // `connection` served its call and stays open for the next: it waits in the idle list, and
  // is closed if it is still there after idle_timeout.
  void make_idle(const std::shared_ptr<Connection>& connection) {
    connection->state = ConnectionState::idle;
    connection->pool->idle.push_back(connection.get());
    const std::uint64_t epoch = ++connection->idle_epoch;
    if (options_.idle_timeout.count() <= 0) return;
    connection->connect_timer.expires_after(options_.idle_timeout);
    connection->connect_timer.async_wait(
        on(connection, [epoch](Impl& self, const std::shared_ptr<Connection>& c, error_code ec) {
          if (ec || c->state != ConnectionState::idle || c->idle_epoch != epoch) return;
          self.drop(*c);
        }));
  }

  // The new `connection` found no descriptor: its call goes back to the head of the queue,
  // and the pool opens no more connections than it has left until the retry timer fires; a
  // connection of its own that closes meanwhile makes room at once, and an idle one serves.
  void wait_for_a_descriptor(const std::shared_ptr<Connection>& connection) {
    Pool& pool = *connection->pool;
    auto call = detach(*connection);
    API_BROKER_ASSERT(call != nullptr);
    drop(*connection);
    ++local_shortages_;
    pool.waiting.push_front(call);
    call->queue_position = pool.waiting.begin();
    call->queued = true;
    pool.shortage_cap = pool.connections.size();
    if (!pool.shortage_retry) {
      pool.shortage_retry.emplace(executor_, limits::http_shortage_retry_delay);
      pool.shortage_retry->async_wait([weak = weak_from_this(), pool = &pool](error_code) {
        auto self = weak.lock();
        if (!self || self->closed_) return;
        pool->shortage_retry.reset();
        pool->shortage_cap.reset();
        self->dispatch(*pool);
      });
    }
    dispatch(pool);
  }

  // `connection` failed while serving its call: close it, then send the call once more on a
  // new connection if `retryable` (a stale keep-alive connection), else fail the call with
  // `code`.
  void connection_failed(const std::shared_ptr<Connection>& connection, std::string message,
                         bool retryable, Errc code = Errc::unavailable) {
    Pool& pool = *connection->pool;
    auto call = detach(*connection);
    API_BROKER_ASSERT(call != nullptr);
    drop(*connection);
    if (retryable && !call->retried) {
      call->retried = true;
      open_connection(pool, call);
      return;
    }
    dispatch(pool);
    complete(call, fail(code, std::move(message)), Delivery::now);
  }

  // Ends `call` before its response: from the queue or its connection, which is closed.
  void abort_call(const std::shared_ptr<CallState>& call, Unexpected<Error> error,
                  Delivery delivery) {
    Pool& pool = *call->pool;
    if (call->queued) {
      pool.waiting.erase(call->queue_position);
      call->queued = false;
    }
    if (Connection* connection = call->connection) {
      detach(*connection);
      drop(*connection);
    }
    dispatch(pool);
    complete(call, std::move(error), delivery);
  }

  // Runs or schedules the handler. With Delivery::now the handler runs last, from an Asio
  // completion: it may call post(), cancel() or destroy the client.
  void complete(const std::shared_ptr<CallState>& call, Result<Response> result,
                Delivery delivery) {
    API_BROKER_ASSERT(!call->finished);
    API_BROKER_ASSERT(!call->queued && call->connection == nullptr);
    call->finished = true;
    calls_.erase(call->id);
    if (call->deadline) call->deadline->cancel();
    auto done = std::move(call->done);
    call->done = nullptr;
    if (delivery == Delivery::now) {
      done(std::move(result));
    } else {
      deliver_later(std::move(done), std::move(result));
    }
  }

  void deliver_later(ResponseHandler done, Result<Response> result) {
    asio::post(executor_, [weak = weak_from_this(), done = std::move(done),
                           result = std::move(result)]() mutable {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      done(std::move(result));
    });
  }

  asio::any_io_executor executor_;
  ClientOptions options_;
  std::uint64_t next_id_ = 0;
  std::uint64_t local_shortages_ = 0;
  std::uint64_t tls_handshakes_ = 0;
  std::uint64_t tls_resumed_ = 0;
  // Made by the first https call; an Error if the TlsOptions files cannot be loaded.
  std::optional<Result<std::shared_ptr<boost::asio::ssl::context>>> tls_context_;
  bool closed_ = false;
  std::unordered_map<CallId, std::shared_ptr<CallState>> calls_;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
};

Client::Client(boost::asio::any_io_executor executor, const ClientOptions& options) {
  API_BROKER_ASSERT(options.connections_max >= 1);
  impl_ = std::make_shared<Impl>(std::move(executor), options);
}

// NOLINTNEXTLINE(bugprone-exception-escape): only a timer the system cannot cancel throws: fatal
Client::~Client() { impl_->shutdown(); }

CallId Client::send(Call call, ResponseHandler done) {
  return impl_->send(std::move(call), std::move(done));
}

CallId Client::post(const Url& url, std::string_view target, std::string body,
                    const std::vector<Header>& headers, std::chrono::milliseconds limit,
                    ResponseHandler done) {
  return impl_->send(Call{.method = "POST",
                          .url = url,
                          .target = std::string(target),
                          .body = std::move(body),
                          .headers = headers,
                          .limit = limit},
                     std::move(done));
}

void Client::cancel(CallId id) { impl_->cancel(id); }

std::size_t Client::in_flight() const { return impl_->in_flight(); }

std::size_t Client::open_connections() const { return impl_->open_connections(); }

std::size_t Client::idle_connections() const { return impl_->idle_connections(); }

std::uint64_t Client::local_shortages() const { return impl_->local_shortages(); }

std::uint64_t Client::tls_handshakes() const { return impl_->tls_handshakes(); }

std::uint64_t Client::tls_resumed() const { return impl_->tls_resumed(); }

}  // namespace api_broker::http
