#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "accept_loop.hpp"
#include "api_broker/thread_name.hpp"
#include "error.hpp"
#include "listen_address.hpp"
#include "server_stream.hpp"

namespace api_broker::service {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using net_stream = ::api_broker::http::detail::ServerStream;

constexpr std::chrono::seconds write_timeout{30};
constexpr std::chrono::seconds handshake_timeout{10};
constexpr std::chrono::seconds drain_timeout{2};
constexpr std::size_t drain_bytes_max = std::size_t{16} * 1024 * 1024;

void log_line(const std::string& line) {
  std::fprintf(stderr, "api-broker serve: %s\n", line.c_str());
}

// The answer of one request, set by Respond from any thread; `wake` brings the connection's
// coroutine back (cleared when the connection ends, so a late answer goes nowhere).
struct Pending {
  std::mutex mutex;
  std::optional<Response> response;
  std::function<void()> wake;
};

// One accepted connection, living in its coroutine's frame.
struct Connection {
  Connection(tcp::socket socket, asio::ssl::context* tls)
      : stream(std::move(socket), tls), timer(stream.get_executor()) {}
  // Wake-ups posted from other threads (an answer, a stream's bytes) may run after the
  // coroutine's frame is gone: they check `alive` on the loop's thread, where it is cleared.
  ~Connection() { *alive = false; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    timer.cancel();
    if (body_stream) body_stream->close();
  }
  net_stream stream;
  asio::steady_timer timer;  // waits for an answer or a stream's bytes
  bool busy = false;         // a request is being answered
  std::shared_ptr<BodyStream> body_stream;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

Request to_request(bhttp::request<bhttp::string_body>& message) {
  Request request;
  const auto method = message.method_string();
  request.method.assign(method.data(), method.size());
  const auto target = message.target();
  request.target.assign(target.data(), target.size());
  for (const auto& field : message) {
    std::string name(field.name_string().data(), field.name_string().size());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    request.headers[std::move(name)] = std::string(field.value().data(), field.value().size());
  }
  request.body = std::move(message.body());
  return request;
}

}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { stop(); }

  Result<void> listen() {
    auto bound = ::api_broker::http::detail::listen_on(loop_->acceptor, options_.endpoint);
    if (!bound) return fail(std::move(bound).error());
    endpoint_ = *bound;
    return {};
  }

  Result<void> launch() {
    loop_->accepting.emplace(loop_->acceptor, options_.connections_max, log_line,
                             [this](tcp::socket socket) {
                               asio::co_spawn(loop_->io, serve_connection(std::move(socket)),
                                              loop_->accepting->on_connection_end());
                             });
    loop_->accepting->start();
    try {
      thread_ = std::thread([this] {
        name_this_thread("ab-http");
        run();
      });
    } catch (const std::system_error& error) {
      return fail(Errc::unavailable,
                  fmt::format("cannot start the server thread: {}", error.what()));
    }
    return {};
  }

  void stop() {
    const std::lock_guard lock(stop_mutex_);
    if (stopped_) return;
    stopped_ = true;
    if (thread_.joinable()) {
      asio::post(loop_->io, [this] { begin_stop(); });
      thread_.join();
    }
    loop_.reset();
  }

  [[nodiscard]] std::string address() const {
    return ::api_broker::http::detail::to_text(endpoint_);
  }
  [[nodiscard]] std::string url() const {
    std::string url = ::api_broker::http::detail::to_url(endpoint_);
    if (options_.tls) url.replace(0, std::string_view("http").size(), "https");
    return url;
  }

 private:
  struct Loop {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    asio::steady_timer grace{io};
    std::optional<::api_broker::http::detail::AcceptLoop> accepting;  // from launch()
  };

  void run() noexcept {
    for (;;) {
      try {
        loop_->io.run();
        return;
      } catch (const std::exception& error) {
        log_line(fmt::format("unexpected error in the event loop: {}", error.what()));
      } catch (...) {
        log_line("unexpected error in the event loop");
      }
    }
  }

  // On the loop: no new connection; idle ones close now, busy ones after their answer or the
  // grace, whichever comes first.
  void begin_stop() {
    stopping_ = true;
    if (loop_->accepting) loop_->accepting->stop();
    beast::error_code ignored;
    loop_->acceptor.close(ignored);
    for (Connection* connection : connections_) {
      if (!connection->busy || connection->body_stream) connection->close();
    }
    loop_->grace.expires_after(options_.stop_grace);
    loop_->grace.async_wait([this](beast::error_code) {
      for (Connection* connection : connections_) connection->close();
    });
    connection_ended();  // none open: no grace to wait for
  }

  void connection_ended() {
    if (stopping_ && connections_.empty()) loop_->grace.cancel();
  }

  asio::awaitable<void> serve_connection(tcp::socket socket) {
    Connection connection(std::move(socket), options_.tls.get());
    connections_.insert(&connection);
    struct Unregister {
      Impl& impl;
      Connection* connection;
      ~Unregister() {
        impl.connections_.erase(connection);
        impl.connection_ended();
      }
    } unregister{*this, &connection};
    if (connection.stream.is_tls()) {
      beast::error_code error;
      connection.stream.expires_after(handshake_timeout);
      co_await connection.stream.tls().async_handshake(
          asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, error));
      if (error || stopping_) co_return;
    }
    beast::flat_buffer buffer;
    while (!stopping_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options_.body_bytes_max);
      parser.header_limit(options_.header_bytes_max);
      beast::error_code error;
      connection.stream.expires_after(options_.idle_timeout);
      co_await bhttp::async_read(connection.stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, error));
      if (stopping_) co_return;
      if (error == bhttp::error::body_limit) {
        co_await refuse(connection, 413, code::body_too_large,
                        fmt::format("the body is larger than {} bytes", options_.body_bytes_max));
        co_return;
      }
      if (error == bhttp::error::header_limit) {
        co_await refuse(connection, 431, code::header_too_large,
                        fmt::format("the request line and header fields are larger than {} bytes",
                                    options_.header_bytes_max));
        co_return;
      }
      if (error == bhttp::error::end_of_stream || error == asio::error::eof ||
          error == beast::error::timeout || error == asio::error::operation_aborted ||
          error == asio::error::connection_reset) {
        co_return;
      }
      if (error) {
        co_await refuse(connection, 400, code::invalid_request,
                        fmt::format("malformed HTTP request: {}", error.message()));
        co_return;
      }
      auto message = parser.release();
      const bool keep_alive = message.keep_alive();
      const bool head = message.method() == bhttp::verb::head;
      const unsigned version = message.version();
      Request request = to_request(message);
      connection.busy = true;
      Response response = co_await answer(connection, request);
      if (response.stream) {
        co_await stream(connection, response, version);
        co_return;
      }
      const bool kept =
          co_await write(connection, response, keep_alive && !stopping_, head, version);
      connection.busy = false;
      if (!kept) co_return;
    }
  }

  // Calls the handler and waits for its answer.
  asio::awaitable<Response> answer(Connection& connection, Request& request) {
    auto pending = std::make_shared<Pending>();
    {
      const std::lock_guard lock(pending->mutex);
      auto executor = connection.stream.get_executor();
      asio::steady_timer* timer = &connection.timer;
      pending->wake = [executor, timer, alive = connection.alive] {
        asio::post(executor, [timer, alive] {
          if (*alive) timer->cancel();
        });
      };
    }
    struct ClearWake {
      std::shared_ptr<Pending> pending;
      ~ClearWake() {
        const std::lock_guard lock(pending->mutex);
        pending->wake = nullptr;
      }
    } clear_wake{pending};
    if (auto parsed = parse_target(request.target, request); !parsed) {
      co_return error_response(400, code::invalid_request, parsed.error().message);
    }
    try {
      handler_(request, [pending](Response response) {
        const std::lock_guard lock(pending->mutex);
        if (pending->response) return;  // answered once already
        pending->response = std::move(response);
        if (pending->wake) pending->wake();
      });
    } catch (const std::exception& error) {
      co_return error_response(500, code::internal, error.what());
    }
    while (true) {
      {
        const std::lock_guard lock(pending->mutex);
        if (pending->response) co_return std::move(*pending->response);
      }
      if (stopping_ && closed_all_) {
        co_return error_response(503, code::unavailable, "the server is stopping");
      }
      beast::error_code error;
      connection.timer.expires_after(std::chrono::hours(1));
      co_await connection.timer.async_wait(asio::redirect_error(asio::use_awaitable, error));
      if (!connection.stream.socket().is_open()) {
        const std::lock_guard lock(pending->mutex);
        if (!pending->response) co_return error_response(503, code::unavailable, "closed");
      }
    }
  }

  asio::awaitable<bool> write(Connection& connection, const Response& response, bool keep_alive,
                              bool head, unsigned version) {
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status),
                                                version};
    message.set(bhttp::field::server, "api-broker");
    if (!response.content_type.empty()) {
      message.set(bhttp::field::content_type, response.content_type);
    }
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.keep_alive(keep_alive);
    if (head) {
      message.content_length(response.body.size());
    } else {
      message.body() = response.body;
      message.prepare_payload();
    }
    beast::error_code error;
    connection.stream.expires_after(write_timeout);
    co_await bhttp::async_write(connection.stream, message,
                                asio::redirect_error(asio::use_awaitable, error));
    if (!error && !keep_alive) {
      connection.stream.socket().shutdown(tcp::socket::shutdown_send, error);
    }
    co_return !error && keep_alive;
  }

  // An error answer to a request not read whole, then what the client still sends is read and
  // dropped for a while (closing with unread data would reset the connection and lose it).
  asio::awaitable<void> refuse(Connection& connection, int status, std::string_view code,
                               std::string message) {
    const Response response = error_response(status, code, message);
    if (!co_await write(connection, response, false, false, 11)) {
      std::vector<char> scratch(std::size_t{64} * 1024);
      std::size_t drained = 0;
      beast::error_code error;
      connection.stream.expires_after(drain_timeout);
      while (!error && !stopping_ && drained < drain_bytes_max) {
        drained += co_await connection.stream.async_read_some(
            asio::buffer(scratch), asio::redirect_error(asio::use_awaitable, error));
      }
    }
  }

  // A streamed answer: status and headers, then the stream's bytes as they come, until it ends
  // or the client is too slow (a write that takes longer than the stall bound) or goes away.
  asio::awaitable<void> stream(Connection& connection, Response& response, unsigned version) {
    connection.body_stream = response.stream;
    struct CloseStream {
      Connection& connection;
      ~CloseStream() { connection.body_stream->close(); }
    } close_stream{connection};
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
    head.set(bhttp::field::server, "api-broker");
    head.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) head.set(name, value);
    head.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    beast::error_code error;
    connection.stream.expires_after(write_timeout);
    co_await bhttp::async_write_header(connection.stream, serializer,
                                       asio::redirect_error(asio::use_awaitable, error));
    if (error) co_return;
    auto ready = std::make_shared<std::atomic<bool>>(true);
    auto executor = connection.stream.get_executor();
    asio::steady_timer* timer = &connection.timer;
    response.stream->on_ready([executor, timer, ready, alive = connection.alive] {
      ready->store(true);
      asio::post(executor, [timer, alive] {
        if (*alive) timer->cancel();
      });
    });
    std::string chunk;
    bool open = true;
    while (open && !stopping_) {
      if (!ready->exchange(false)) {
        connection.timer.expires_after(std::chrono::hours(1));
        co_await connection.timer.async_wait(asio::redirect_error(asio::use_awaitable, error));
        if (!connection.stream.socket().is_open()) co_return;
        continue;
      }
      chunk.clear();
      open = response.stream->take(chunk);
      if (!chunk.empty()) {
        connection.stream.expires_after(limits::service_stream_stall);
        co_await asio::async_write(connection.stream, asio::buffer(chunk),
                                   asio::redirect_error(asio::use_awaitable, error));
        if (error) co_return;  // gone, or too slow: dropped
        ready->store(true);    // take again: more may have come meanwhile
      }
    }
    connection.stream.socket().shutdown(tcp::socket::shutdown_send, error);
  }

  const ServerOptions options_;
  const Handler handler_;
  tcp::endpoint endpoint_;
  std::unordered_set<Connection*> connections_;
  bool stopping_ = false;
  bool closed_all_ = false;

  std::mutex stop_mutex_;
  bool stopped_ = false;
  std::thread thread_;
  std::unique_ptr<Loop> loop_ = std::make_unique<Loop>();
};

#pragma GCC diagnostic pop

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  if (auto listening = impl->listen(); !listening) return fail(std::move(listening).error());
  if (auto launched = impl->launch(); !launched) return fail(std::move(launched).error());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }
std::string Server::address() const { return impl_->address(); }
std::string Server::url() const { return impl_->url(); }
void Server::stop() { impl_->stop(); }

}  // namespace api_broker::service
