#pragma once
// What the servers (the brittle API, api-broker serve) share around their connections:
// accepting them under a bound and handing each to the server's session, and reporting an
// exception that ended a session. Plain Asio completion handlers, no coroutines, so that this
// file is checked by clang-tidy (clang 14 cannot parse Boost 1.74's Asio coroutines: the
// servers' session code is left out of it, scripts/tidy.sh).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>

namespace api_broker::http::detail {

// One line to the server's log.
using LogLine = std::function<void(const std::string&)>;

// Accepts connections on a listening acceptor until stop(). Each accepted socket (TCP_NODELAY
// set) goes to `spawn` while fewer than `connections_max` spawned connections are open; one
// beyond is closed at once. A failed accept (typically out of file descriptors) is reported
// once and retried after a short delay, never in a spin. Not thread-safe: every call on the
// acceptor's executor (or before its io_context runs); destroy it before that io_context.
class AcceptLoop {
 public:
  using Spawn = std::function<void(boost::asio::ip::tcp::socket)>;

  AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor, std::size_t connections_max, LogLine log,
             Spawn spawn);
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;

  // Starts accepting. REQUIRES: the acceptor listens.
  void start();
  // No further connection is accepted (the caller closes the acceptor).
  void stop();
  // A spawned connection ended: its place is free.
  void connection_ended();
  // The completion of a connection's coroutine (asio::co_spawn's handler): connection_ended(),
  // and the exception that ended it, if any, reported in one line.
  [[nodiscard]] std::function<void(std::exception_ptr)> on_connection_end();
  [[nodiscard]] std::size_t connections() const { return connections_; }

 private:
  void accept();
  void on_accept(const boost::system::error_code& error, boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor& acceptor_;
  boost::asio::steady_timer retry_;
  const std::size_t connections_max_;
  const LogLine log_;
  const Spawn spawn_;
  std::size_t connections_ = 0;  // spawned and not ended
  bool error_reported_ = false;
  bool stopped_ = false;
};

// The completion of a spawned coroutine (asio::co_spawn's handler): reports in one line the
// exception that ended it, if any (none is expected).
struct LogEnd {
  const char* what;
  LogLine log;
  void operator()(const std::exception_ptr& exception) const noexcept;
};

}  // namespace api_broker::http::detail
