#pragma once
// A scripted HTTP/1.1 server for the client tests: Boost.Beast on 127.0.0.1, an ephemeral
// port, one thread of its own. A handler decides each reply: respond (after a delay, chunked,
// closing afterwards), close the connection without answering, or never answer.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/http/url.hpp"

namespace api_broker::http::test {

struct SeenRequest {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::size_t connection = 0;                  // 1 for the first accepted connection, ...
  std::size_t request_on_connection = 0;       // 1 for the first request on it, ...
};

struct Reply {
  enum class Action { respond, close, hang };
  Action action = Action::respond;
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // before acting
  bool chunked = false;
  bool until_close = false;  // no Content-Length, not chunked: the body ends when it closes
  bool close_after = false;  // close after responding, without saying Connection: close
  // When not empty: the bytes written as the answer, instead of a response built from the
  // fields above (e.g. an interim 1xx answer followed by the final one).
  std::string raw;
};

class TestServer {
 public:
  // `handler` runs on the server's thread.
  using Handler = std::function<Reply(const SeenRequest&)>;

  explicit TestServer(Handler handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  Url url(std::string base_path = "") const { return Url{"127.0.0.1", port_, base_path}; }

  std::size_t accepts() const { return accepts_.load(); }
  std::size_t requests() const { return requests_.load(); }
  std::size_t connections_open_peak() const { return connections_open_peak_.load(); }
  std::optional<SeenRequest> last_request() const;

 private:
  boost::asio::awaitable<void> listen();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, std::size_t number);

  Handler handler_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepts_{0};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> connections_open_{0};
  std::atomic<std::size_t> connections_open_peak_{0};
  mutable std::mutex mutex_;
  std::optional<SeenRequest> last_request_;  // guarded by mutex_
  std::thread thread_;
};

// A port on 127.0.0.1 with nothing listening (bound, then closed).
std::uint16_t unused_port();

}  // namespace api_broker::http::test
