#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "unit/http/test_server.hpp"

// GCC 12 misreports Asio's coroutine frame allocator (operator new/delete with size) as
// mismatched: a false positive in every TU that defines an asio::awaitable coroutine.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>

namespace api_broker::http::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

TestServer::TestServer(Handler handler)
    : handler_(std::move(handler)), io_(std::make_unique<asio::io_context>(1)) {
  acceptor_.emplace(*io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(*io_, listen(), asio::detached);
  thread_ = std::thread([this] { io_->run(); });
}

TestServer::~TestServer() {
  io_->stop();
  thread_.join();
  // Destroys the sessions' coroutine frames while the members they use still exist.
  acceptor_.reset();
  io_.reset();
}

std::optional<SeenRequest> TestServer::last_request() const {
  const std::lock_guard lock(mutex_);
  return last_request_;
}

asio::awaitable<void> TestServer::listen() {
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const std::size_t number = ++accepts_;
    asio::co_spawn(*io_, session(std::move(socket), number), asio::detached);
  }
}

asio::awaitable<void> TestServer::session(tcp::socket socket, std::size_t number) {
  const std::size_t open = ++connections_open_;
  std::size_t peak = connections_open_peak_.load();
  while (open > peak && !connections_open_peak_.compare_exchange_weak(peak, open)) {
  }
  struct Closed {
    std::atomic<std::size_t>& open;
    ~Closed() { --open; }
  } closed{connections_open_};

  beast::flat_buffer buffer;
  std::size_t requests_here = 0;
  for (;;) {
    error_code ec;
    bhttp::request<bhttp::string_body> request;
    co_await bhttp::async_read(socket, buffer, request,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    ++requests_;
    SeenRequest seen;
    seen.method = std::string(request.method_string());
    seen.target = std::string(request.target());
    seen.body = request.body();
    seen.connection = number;
    seen.request_on_connection = ++requests_here;
    for (const auto& field : request) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      seen.headers[name] = std::string(field.value());
    }
    {
      const std::lock_guard lock(mutex_);
      last_request_ = seen;
    }
    const Reply reply = handler_(seen);
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(socket.get_executor(), reply.delay);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (reply.action == Reply::Action::close) break;
    if (reply.action == Reply::Action::hang) continue;  // the client sends nothing more
    if (!reply.raw.empty()) {
      co_await asio::async_write(socket, asio::buffer(reply.raw),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec || reply.close_after) break;
      continue;
    }

    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(reply.status),
                                                 request.version()};
    response.keep_alive(request.keep_alive());
    for (const auto& [name, value] : reply.headers) response.set(name, value);
    response.body() = reply.body;
    if (reply.chunked) {
      response.chunked(true);
    } else if (reply.until_close) {
      response.keep_alive(false);
    } else {
      response.prepare_payload();
    }
    co_await bhttp::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || reply.close_after || reply.until_close || !request.keep_alive()) break;
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

std::uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace api_broker::http::test
