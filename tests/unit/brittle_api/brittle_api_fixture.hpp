#pragma once
// The brittle API tests' client side: a blocking HTTP/1.1 client on one connection, and the
// calls and readings the tests repeat.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
// GCC 12 with -fsanitize=address reports boost::optional inside Beast's parser as maybe
// uninitialized (a false positive); the pragma must cover the header that defines it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/brittle_api/brittle_api.hpp"

namespace api_broker::brittle_api::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;
using Json = nlohmann::json;

// A guard against a hung test, not a timing check: a read that waits this long fails.
inline constexpr int receive_timeout_seconds = 120;

inline std::unique_ptr<Server> start_server(const Options& options = {}) {
  auto server = Server::start("127.0.0.1:0", options);
  if (!server) ADD_FAILURE() << server.error().message;
  return server ? std::move(server).value() : nullptr;
}

// What a client saw of one request: a response, or the error that ended the exchange
// (end_of_stream when the server closed the connection without answering).
struct Exchange {
  std::optional<Response> response;
  beast::error_code error;
};

// A blocking HTTP/1.1 client on one connection to 127.0.0.1.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
    const timeval timeout{receive_timeout_seconds, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  Exchange send(http::verb method, std::string_view target, std::string body = {},
                const std::map<std::string, std::string>& headers = {}, bool chunked = false) {
    http::request<http::string_body> request{method,
                                             beast::string_view(target.data(), target.size()), 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    if (chunked) {
      request.chunked(true);
    } else if (method != http::verb::get && method != http::verb::head) {
      request.prepare_payload();
    }
    beast::error_code error;
    http::write(socket_, request, error);
    if (error) return {std::nullopt, error};
    return receive(method == http::verb::head);
  }

  Exchange receive(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.skip(head);
    beast::error_code error;
    http::read(socket_, buffer_, parser, error);
    if (error) return {std::nullopt, error};
    return {parser.release(), error};
  }

  // True if the server closed the connection: the next read gets end of stream.
  bool closed_by_server() {
    char byte = 0;
    beast::error_code error;
    socket_.read_some(asio::buffer(&byte, 1), error);
    return error == asio::error::eof || error == asio::error::connection_reset;
  }

  tcp::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline Exchange post_api(std::uint16_t port, std::string body, std::string key = {}) {
  std::map<std::string, std::string> headers;
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return Client(port).send(http::verb::post, "/api", std::move(body), headers);
}

inline bool closed_without_answer(const Exchange& exchange) {
  return !exchange.response && (exchange.error == http::error::end_of_stream ||
                                exchange.error == asio::error::connection_reset);
}

// "ok", "503" or "dropped", as in the calls log.
inline std::string outcome_of(const Exchange& exchange) {
  if (closed_without_answer(exchange)) return "dropped";
  if (!exchange.response) return "error: " + exchange.error.message();
  if (exchange.response->result() == http::status::ok) return "ok";
  return std::to_string(exchange.response->result_int());
}

inline Json get_json(std::uint16_t port, std::string_view target) {
  const Exchange exchange = Client(port).send(http::verb::get, target);
  if (!exchange.response) {
    ADD_FAILURE() << "GET " << target << ": " << exchange.error.message();
    return {};
  }
  EXPECT_EQ(exchange.response->result(), http::status::ok);
  EXPECT_EQ((*exchange.response)[http::field::content_type], "application/json");
  return Json::parse(exchange.response->body());
}

}  // namespace api_broker::brittle_api::test
