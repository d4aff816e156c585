#pragma once
// The service's HTTP/1.1 server on Boost.Beast: keep-alive, one Asio thread, bounded header
// and body sizes, a bounded number of connections, optional TLS, and a graceful stop
// (stop accepting, let the answers under way be written, then close). It knows no route: each
// request becomes a service::Request passed to one Handler, which answers once, from any
// thread.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"
#include "message.hpp"

namespace api_broker::service {

struct ServerOptions {
  boost::asio::ip::tcp::endpoint endpoint;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain http
  std::size_t connections_max = limits::service_connections_max;
  std::size_t body_bytes_max = limits::service_body_bytes_max;
  std::uint32_t header_bytes_max = limits::service_header_bytes_max;
  // A keep-alive connection idle this long, or a request not read whole within it, is closed.
  std::chrono::seconds idle_timeout = limits::service_idle_timeout;
  // How long stop() lets the answers under way be written before it closes their connections.
  std::chrono::milliseconds stop_grace{5000};
};

class Server {
 public:
  // Listens and starts the server's thread. Errc::invalid_input for an address of no local
  // interface, Errc::unavailable when the port is taken.
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The address listened on ("127.0.0.1:8080"; the port chosen when 0 was asked).
  [[nodiscard]] std::string address() const;
  // "http://127.0.0.1:8080" or "https://...": for a client on this host.
  [[nodiscard]] std::string url() const;
  // Stops accepting, lets the answers under way be written (up to the grace), closes every
  // connection and joins the thread. Idempotent.
  void stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace api_broker::service
