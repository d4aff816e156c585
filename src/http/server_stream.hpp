#pragma once
// One accepted connection's byte stream, plain TCP or TLS over it, behind one type: the
// session code reads and writes HTTP on it without knowing which (only accepting differs).

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstddef>
#include <optional>

namespace api_broker::http::detail {

class ServerStream {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): the name Asio's stream concept requires
  using executor_type = boost::beast::tcp_stream::executor_type;

  // `tls`: the server's context, for a TLS connection; nullptr for plain TCP.
  ServerStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls)
      : tcp_(std::move(socket)) {
    if (tls != nullptr) tls_.emplace(tcp_, *tls);
  }
  ServerStream(const ServerStream&) = delete;
  ServerStream& operator=(const ServerStream&) = delete;

  [[nodiscard]] executor_type get_executor() noexcept { return tcp_.get_executor(); }
  [[nodiscard]] bool is_tls() const { return tls_.has_value(); }
  // The TLS stream. REQUIRES: is_tls().
  boost::beast::ssl_stream<boost::beast::tcp_stream&>& tls() { return *tls_; }

  // The TCP layer's: a timeout applies to every operation under way, TLS or not.
  void expires_after(std::chrono::steady_clock::duration after) { tcp_.expires_after(after); }
  void expires_never() { tcp_.expires_never(); }
  boost::asio::ip::tcp::socket& socket() { return tcp_.socket(); }
  void close() { tcp_.close(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            tcp_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            tcp_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  boost::beast::tcp_stream tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream&>> tls_;  // over tcp_
};

}  // namespace api_broker::http::detail
