#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/brittle_api/brittle_api.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <fmt/core.h>

#include "accept_loop.hpp"
#include "api_broker/thread_name.hpp"
#include "call_tally.hpp"
#include "calls_log.hpp"
#include "fault_plan.hpp"
#include "listen_address.hpp"
#include "log.hpp"
#include "messages.hpp"
#include "server_stream.hpp"
#include "server_tls.hpp"
#include "text.hpp"

namespace api_broker::brittle_api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace server = ::api_broker::http::detail;  // what servers share (listen address, TLS)
using tcp = asio::ip::tcp;
using detail::Outcome;
using detail::Plan;
using detail::reply;
using detail::Request;
using detail::Response;

constexpr std::chrono::milliseconds log_flush_interval{100};
// A client that does not take its response within this time is disconnected.
constexpr std::chrono::seconds write_timeout{30};
// A client that has not finished its TLS handshake within this time is disconnected.
constexpr std::chrono::seconds handshake_timeout{10};
// After a 413, what is still read and thrown away before closing the connection.
constexpr std::chrono::seconds drain_timeout{5};
constexpr std::size_t drain_bytes_max = 4 * body_bytes_max;
constexpr std::size_t drain_chunk_bytes = std::size_t{64} * 1024;

// When one POST /api arrived, and which attempt its client said it was.
struct Arrival {
  std::int64_t t_us;
  std::optional<std::uint32_t> attempt;
};

std::int64_t unix_micros_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count();
}

// One accepted connection. Lives in its coroutine's frame and is registered with the server
// so that stop() can close it.
struct Connection {
  Connection(tcp::socket socket, asio::ssl::context* tls)
      : stream(std::move(socket), tls), latency_timer(stream.get_executor()) {}

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    latency_timer.cancel();
  }

  server::ServerStream stream;  // plain TCP, or TLS over it
  asio::steady_timer latency_timer;
};

}  // namespace

// GCC 12 inlines the coroutine frame allocator of Boost 1.74 (a recycling allocator on top of
// ::operator new) and then wrongly reports its matching delete as mismatched.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

class Server::Impl {
 public:
  Impl(const Options& options, std::uint64_t seed, std::optional<detail::CallsLog> calls_log,
       std::unique_ptr<asio::ssl::context> tls)
      : options_(options),
        seed_(seed),
        tls_(std::move(tls)),
        planner_(options, seed),
        calls_log_(std::move(calls_log)) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { stop(); }

  Result<void> listen(const tcp::endpoint& endpoint) {
    auto bound = server::listen_on(loop_->acceptor, endpoint);
    if (!bound) return fail(std::move(bound).error());
    endpoint_ = *bound;
    return {};
  }

  Result<void> launch() {
    loop_->accepting.emplace(loop_->acceptor, connections_max, detail::log_line,
                             [this](tcp::socket socket) {
                               asio::co_spawn(loop_->io, serve_connection(std::move(socket)),
                                              loop_->accepting->on_connection_end());
                             });
    loop_->accepting->start();
    if (calls_log_)
      asio::co_spawn(loop_->io, flush_loop(), server::LogEnd{"log flush loop", detail::log_line});
    try {
      thread_ = std::thread([this] {
        name_this_thread("brittle-api");
        run();
      });
    } catch (const std::system_error& error) {
      return fail(Errc::unavailable,
                  fmt::format("cannot start the brittle API thread: {}", error.what()));
    }
    return {};
  }

  void stop() {
    const std::lock_guard lock(stop_mutex_);
    if (stopped_) return;
    stopped_ = true;
    if (thread_.joinable()) {
      API_BROKER_ASSERT(std::this_thread::get_id() != thread_.get_id());
      asio::post(loop_->io, [this] { close_everything(); });
      thread_.join();
    }
    // Coroutines not yet finished (none, unless the thread failed to start) are destroyed
    // here, while the rest of Impl they refer to is still alive.
    loop_.reset();
    if (calls_log_) calls_log_->flush();
  }

  std::uint16_t port() const { return endpoint_.port(); }
  std::string url() const {
    std::string url = server::to_url(endpoint_);
    if (tls_) url.replace(0, std::string_view("http").size(), "https");
    return url;
  }
  std::string address() const { return server::to_text(endpoint_); }
  std::uint64_t seed() const { return seed_; }

  Stats stats() const { return tally_.stats(); }

 private:
  // The event loop and its I/O objects, destroyed together before the state they refer to.
  struct Loop {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    asio::steady_timer flush_timer{io};
    std::optional<server::AcceptLoop> accepting;  // from launch()
  };

  void run() noexcept {
    for (;;) {
      try {
        loop_->io.run();
        return;
      } catch (const std::exception& error) {
        detail::log_line(fmt::format("unexpected error in the event loop: {}", error.what()));
      } catch (...) {
        detail::log_line("unexpected error in the event loop");
      }
    }
  }

  // On the loop's thread: ends every coroutine, so that io_context::run() returns.
  void close_everything() {
    stopping_ = true;
    if (loop_->accepting) loop_->accepting->stop();
    beast::error_code ignored;
    loop_->acceptor.close(ignored);
    loop_->flush_timer.cancel();
    for (Connection* connection : connections_) connection->close();
  }

  asio::awaitable<void> flush_loop() {
    while (!stopping_) {
      beast::error_code error;
      loop_->flush_timer.expires_after(log_flush_interval);
      co_await loop_->flush_timer.async_wait(asio::redirect_error(asio::use_awaitable, error));
      calls_log_->flush();
    }
  }

  // Serves the requests of one connection in order until it closes.
  asio::awaitable<void> serve_connection(tcp::socket socket) {
    Connection connection(std::move(socket), tls_.get());
    connections_.insert(&connection);
    struct Unregister {
      std::unordered_set<Connection*>& connections;
      Connection* connection;
      ~Unregister() { connections.erase(connection); }
    } unregister{connections_, &connection};
    if (connection.stream.is_tls() && !co_await handshake(connection)) co_return;

    beast::flat_buffer buffer;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;  // one per request, by Beast's design
      parser.body_limit(body_bytes_max);
      beast::error_code error;
      connection.stream.expires_after(idle_timeout);
      co_await http::async_read_header(connection.stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, error));
      if (!error && !parser.is_done() && detail::expects_continue(parser.get()) && !stopping_) {
        static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(connection.stream, asio::buffer(continue_line),
                                   asio::redirect_error(asio::use_awaitable, error));
      }
      if (!error && !stopping_) {
        co_await http::async_read(connection.stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, error));
      }
      if (stopping_) co_return;
      if (error == http::error::body_limit) {
        Response response{http::status::payload_too_large, 11};
        response.keep_alive(false);
        response.set(http::field::content_type, "text/plain");
        response.body() = "payload too large";
        if (co_await write(connection, response)) co_await drain(connection);
        co_return;
      }
      if (error) co_return;  // the client closed, a timeout, or malformed HTTP: close

      Request request = parser.release();
      std::optional<Response> response = co_await handle(connection, request);
      if (!response || stopping_) co_return;  // dropped on purpose, or stopping
      if (!co_await write(connection, *response) || !response->keep_alive()) co_return;
    }
  }

  // The server's side of a TLS handshake; false (the connection is to be closed) if it failed,
  // e.g. a client that does not trust the certificate, or presents none under mutual TLS.
  asio::awaitable<bool> handshake(Connection& connection) {
    beast::error_code error;
    connection.stream.expires_after(handshake_timeout);
    co_await connection.stream.tls().async_handshake(
        asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, error));
    co_return !error && !stopping_;
  }

  // Writes `response` and, unless it keeps the connection alive, closes the sending side.
  // Returns whether the write succeeded.
  asio::awaitable<bool> write(Connection& connection, Response& response) {
    response.set(http::field::server, "api-broker-brittle-api");
    beast::error_code error;
    connection.stream.expires_after(write_timeout);
    co_await http::async_write(connection.stream, response,
                               asio::redirect_error(asio::use_awaitable, error));
    if (!error && !response.keep_alive()) {
      connection.stream.socket().shutdown(tcp::socket::shutdown_send, error);
    }
    co_return !error;
  }

  // Reads and discards what the client still sends, for a while, before the connection is
  // closed: closing with unread data makes the kernel send a reset, which can destroy the
  // response (a 413) before the client has read it.
  asio::awaitable<void> drain(Connection& connection) {
    std::vector<char> scratch(drain_chunk_bytes);
    std::size_t drained = 0;
    beast::error_code error;
    connection.stream.expires_after(drain_timeout);
    while (!error && !stopping_ && drained < drain_bytes_max) {
      drained += co_await connection.stream.async_read_some(
          asio::buffer(scratch), asio::redirect_error(asio::use_awaitable, error));
    }
  }

  // The response to `request`, or none if the connection must be closed unanswered. /up and
  // /stats are the server's own; /redirect... answers 302 to /api...; any other method and
  // path is a call of the API, under the fault plan.
  asio::awaitable<std::optional<Response>> handle(Connection& connection, Request& request) {
    const std::string_view path = detail::path_of(request);
    const http::verb method = request.method();
    if (path.rfind("/redirect", 0) == 0) co_return redirect(request, path);
    if (path == "/up") {
      if (method == http::verb::get) co_return reply(request, http::status::ok, "ok");
      if (method == http::verb::head) {
        Response response = reply(request, http::status::ok, "");
        response.content_length(2);  // what GET would send; HEAD sends no body
        co_return response;
      }
      co_return reply(request, http::status::bad_request, "bad request");
    }
    if (path == "/stats" || path == "/stats/keys") {
      if (method != http::verb::get)
        co_return reply(request, http::status::bad_request, "bad request");
      Response response =
          reply(request, http::status::ok,
                path == "/stats" ? tally_.stats_json() : tally_.keys_json(), "application/json");
      co_return response;
    }
    co_return co_await call_api(connection, request);
  }

  // 302 Found to "/api" and what follows "/redirect" in the target, recorded as a call.
  Response redirect(const Request& request, std::string_view path) {
    const std::string_view target(request.target().data(), request.target().size());
    const std::string location =
        "/api" + std::string(target.substr(std::string_view("/redirect").size()));
    // Logged, not counted in the stats: it is no call of /api.
    log_call(request, "redirect", 0,
             Arrival{.t_us = unix_micros_now(), .attempt = detail::attempt_of(request)});
    (void)path;
    Response response = reply(request, http::status::found, "found");
    response.set(http::field::location, location);
    return response;
  }

  asio::awaitable<std::optional<Response>> call_api(Connection& connection, Request& request) {
    const std::string key(request["Idempotency-Key"]);
    const Arrival arrival{.t_us = unix_micros_now(), .attempt = detail::attempt_of(request)};
    Plan plan = planner_.draw();
    tally_.arrived(key);
    if (is_stale(request)) {
      plan.outcome = Outcome::stale;
      record_outcome(request, plan, arrival);
      co_return reply(request, http::status::conflict,
                      fmt::format("stale lease epoch: a newer one ({}) was seen", epoch_max_));
    }

    beast::error_code error;
    if (plan.latency_seconds > 0) {
      connection.stream.expires_never();
      connection.latency_timer.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(plan.latency_seconds)));
      co_await connection.latency_timer.async_wait(
          asio::redirect_error(asio::use_awaitable, error));
    }
    if (stopping_) {  // abandoned: the call stays counted in `calls` only
      tally_.abandoned();
      co_return std::nullopt;
    }
    record_outcome(request, plan, arrival);

    switch (plan.outcome) {
      case Outcome::ok: {
        if (request.method() == http::verb::head) {
          co_return reply(request, http::status::ok, "");
        }
        const std::string content_type(request[http::field::content_type]);
        co_return reply(request, http::status::ok, detail::reverse_code_points(request.body()),
                        content_type.empty() ? "application/octet-stream" : content_type);
      }
      case Outcome::unavailable:
        co_return reply(request, http::status::service_unavailable, "service unavailable");
      case Outcome::dropped:
        connection.close();
        co_return std::nullopt;
      case Outcome::stale:  // answered above
        break;
    }
    co_return std::nullopt;
  }

  // With reject_stale_epochs: the call's lease epoch is below the largest seen so far.
  bool is_stale(const Request& request) {
    if (!options_.reject_stale_epochs) return false;
    const auto epoch = detail::number_header<std::uint64_t>(request, "Api-Broker-Lease-Epoch");
    if (!epoch) return false;
    if (*epoch < epoch_max_) return true;
    epoch_max_ = *epoch;
    return false;
  }

  void record_outcome(const Request& request, const Plan& plan, const Arrival& arrival) {
    tally_.finished(plan.outcome);
    log_call(request, detail::to_log_text(plan.outcome), plan.latency_seconds, arrival);
  }

  void log_call(const Request& request, std::string_view outcome, double latency_seconds,
                const Arrival& arrival) {
    if (!calls_log_) return;
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    for (const auto& field : request) {
      headers.emplace_back(std::string_view(field.name_string().data(), field.name_string().size()),
                           std::string_view(field.value().data(), field.value().size()));
    }
    const auto key = request["Idempotency-Key"];
    const auto method = request.method_string();
    const auto target = request.target();
    calls_log_->append(
        detail::CallsLog::Line{.t_us = unix_micros_now(),
                               .key = std::string_view(key.data(), key.size()),
                               .outcome = outcome,
                               .latency_ms = latency_seconds * 1000.0,
                               .received_us = arrival.t_us,
                               .attempt = arrival.attempt,
                               .method = std::string_view(method.data(), method.size()),
                               .target = std::string_view(target.data(), target.size()),
                               .headers = std::move(headers),
                               .body = request.body()});
  }

  const Options options_;
  const std::uint64_t seed_;
  const std::unique_ptr<asio::ssl::context> tls_;  // null: plain http
  tcp::endpoint endpoint_;

  // Used only on the loop's thread.
  detail::FaultPlanner planner_;
  std::optional<detail::CallsLog> calls_log_;  // flushed by stop() after the thread ends
  std::uint64_t epoch_max_ = 0;                // the largest Api-Broker-Lease-Epoch seen
  std::unordered_set<Connection*> connections_;
  bool stopping_ = false;

  detail::CallTally tally_;  // its stats() may be read from any thread

  std::mutex stop_mutex_;
  bool stopped_ = false;
  std::thread thread_;
  // Last: its destructor (via stop()) destroys coroutine frames that use the members above.
  std::unique_ptr<Loop> loop_ = std::make_unique<Loop>();
};

#pragma GCC diagnostic pop

Result<std::unique_ptr<Server>> Server::start(std::string_view address, const Options& options) {
  if (auto valid = validate(options); !valid) return fail(std::move(valid).error());
  auto endpoint = server::parse_address(address);
  if (!endpoint) return fail(std::move(endpoint).error());

  std::optional<detail::CallsLog> calls_log;
  if (!options.calls_log_path.empty()) {
    auto opened = detail::CallsLog::open(options.calls_log_path);
    if (!opened) return fail(std::move(opened).error());
    calls_log.emplace(std::move(opened).value());
  }
  std::uint64_t seed = 0;
  if (options.seed) {
    seed = *options.seed;
  } else {
    std::random_device device;
    seed = (std::uint64_t{device()} << 32) ^ std::uint64_t{device()};
  }

  std::unique_ptr<asio::ssl::context> tls;
  if (!options.tls_cert_file.empty()) {
    auto made = server::make_server_tls(server::TlsFiles{.cert = options.tls_cert_file,
                                                         .key = options.tls_key_file,
                                                         .client_ca = options.tls_client_ca_file});
    if (!made) return fail(std::move(made).error());
    tls = std::move(made).value();
  }
  auto impl = std::make_unique<Impl>(options, seed, std::move(calls_log), std::move(tls));
  if (auto listening = impl->listen(*endpoint); !listening) {
    return fail(std::move(listening).error());
  }
  if (auto launched = impl->launch(); !launched) return fail(std::move(launched).error());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }
std::uint16_t Server::port() const { return impl_->port(); }
std::string Server::address() const { return impl_->address(); }
std::string Server::url() const { return impl_->url(); }
std::uint64_t Server::seed() const { return impl_->seed(); }
Stats Server::stats() const { return impl_->stats(); }
void Server::stop() { impl_->stop(); }

}  // namespace api_broker::brittle_api
