#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/brittle_api/brittle_api.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
// GCC 12 with -fsanitize=address reports boost::optional inside Beast's parser as maybe
// uninitialized (a false positive); the pragma must cover the header that defines it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace api_broker::brittle_api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;
using Json = nlohmann::json;

// A guard against a hung test, not a timing check: a read that waits this long fails.
constexpr int receive_timeout_seconds = 120;

std::unique_ptr<Server> start_server(const Options& options = {}) {
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

Exchange post_api(std::uint16_t port, std::string body, std::string key = {}) {
  std::map<std::string, std::string> headers;
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return Client(port).send(http::verb::post, "/api", std::move(body), headers);
}

bool closed_without_answer(const Exchange& exchange) {
  return !exchange.response && (exchange.error == http::error::end_of_stream ||
                                exchange.error == asio::error::connection_reset);
}

// "ok", "503" or "dropped", as in the calls log.
std::string outcome_of(const Exchange& exchange) {
  if (closed_without_answer(exchange)) return "dropped";
  if (!exchange.response) return "error: " + exchange.error.message();
  if (exchange.response->result() == http::status::ok) return "ok";
  return std::to_string(exchange.response->result_int());
}

Json get_json(std::uint16_t port, std::string_view target) {
  const Exchange exchange = Client(port).send(http::verb::get, target);
  if (!exchange.response) {
    ADD_FAILURE() << "GET " << target << ": " << exchange.error.message();
    return {};
  }
  EXPECT_EQ(exchange.response->result(), http::status::ok);
  EXPECT_EQ((*exchange.response)[http::field::content_type], "application/json");
  return Json::parse(exchange.response->body());
}

TEST(BrittleApi, UpAnswersGetAndHead) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());

  const Exchange get = client.send(http::verb::get, "/up");
  ASSERT_TRUE(get.response) << get.error.message();
  EXPECT_EQ(get.response->result(), http::status::ok);
  EXPECT_EQ(get.response->body(), "ok");

  const Exchange head = client.send(http::verb::head, "/up");  // same connection: keep-alive
  ASSERT_TRUE(head.response) << head.error.message();
  EXPECT_EQ(head.response->result(), http::status::ok);
  EXPECT_EQ((*head.response)[http::field::content_length], "2");
  EXPECT_EQ(head.response->body(), "");

  const Exchange again = client.send(http::verb::get, "/up?probe=1");
  ASSERT_TRUE(again.response) << again.error.message();
  EXPECT_EQ(again.response->body(), "ok");
  EXPECT_EQ(server->stats().calls, 0U);
}

TEST(BrittleApi, ApiReversesAsciiBody) {
  auto server = start_server();
  ASSERT_TRUE(server);
  const Exchange exchange = post_api(server->port(), "hello, world");
  ASSERT_TRUE(exchange.response) << exchange.error.message();
  EXPECT_EQ(exchange.response->result(), http::status::ok);
  EXPECT_EQ(exchange.response->body(), "dlrow ,olleh");
}

TEST(BrittleApi, ApiReversesUtf8BodyByCodePoint) {
  auto server = start_server();
  ASSERT_TRUE(server);
  // "añ€😀" and a stray invalid byte
  const Exchange exchange = post_api(server->port(), "a\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80\xFF");
  ASSERT_TRUE(exchange.response) << exchange.error.message();
  EXPECT_EQ(exchange.response->result(), http::status::ok);
  EXPECT_EQ(exchange.response->body(),
            "\xFF\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xB1"
            "a");
}

TEST(BrittleApi, KeepAliveServesManyRequestsAndHonoursConnectionClose) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());
  for (int i = 0; i < 20; ++i) {
    const std::string body = fmt::format("n{}", i);
    const Exchange exchange = client.send(http::verb::post, "/api", body);
    ASSERT_TRUE(exchange.response) << exchange.error.message();
    EXPECT_EQ(exchange.response->body(), std::string(body.rbegin(), body.rend()));
    EXPECT_TRUE(exchange.response->keep_alive());
  }
  const Exchange last = client.send(http::verb::post, "/api", "bye", {{"Connection", "close"}});
  ASSERT_TRUE(last.response) << last.error.message();
  EXPECT_EQ(last.response->body(), "eyb");
  EXPECT_FALSE(last.response->keep_alive());
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(server->stats().succeeded, 21U);
}

TEST(BrittleApi, AllFailuresAnswer503WhenNoneIsSilent) {
  auto server = start_server({.failure_rate = 1, .silent_failure_rate = 0});
  ASSERT_TRUE(server);
  Client client(server->port());
  for (int i = 0; i < 20; ++i) {
    const Exchange exchange = client.send(http::verb::post, "/api", "ping");
    ASSERT_TRUE(exchange.response) << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::service_unavailable);
    EXPECT_EQ(exchange.response->body(), "service unavailable");
  }
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, 20U);
  EXPECT_EQ(stats.failed, 20U);
  EXPECT_EQ(stats.succeeded + stats.dropped + stats.in_flight, 0U);
}

TEST(BrittleApi, SilentFailuresCloseTheConnectionWithoutAnswer) {
  auto server = start_server({.failure_rate = 1, .silent_failure_rate = 1});
  ASSERT_TRUE(server);
  for (int i = 0; i < 10; ++i) {
    const Exchange exchange = post_api(server->port(), "ping");
    EXPECT_TRUE(closed_without_answer(exchange)) << outcome_of(exchange);
  }
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, 10U);
  EXPECT_EQ(stats.dropped, 10U);
}

TEST(BrittleApi, OtherMethodsGet400AndUnknownPaths404) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());
  const std::vector<std::pair<http::verb, std::string>> bad_requests = {
      {http::verb::put, "/api"},        {http::verb::get, "/api"}, {http::verb::delete_, "/api"},
      {http::verb::post, "/up"},        {http::verb::put, "/up"},  {http::verb::post, "/stats"},
      {http::verb::post, "/stats/keys"}};
  for (const auto& [method, target] : bad_requests) {
    const Exchange exchange = client.send(method, target, "x");
    ASSERT_TRUE(exchange.response) << target << ": " << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::bad_request) << target;
  }
  for (const char* target : {"/", "/apix", "/api/v1", "/stats/other", "/UP"}) {
    const Exchange exchange = client.send(http::verb::get, target);
    ASSERT_TRUE(exchange.response) << target << ": " << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::not_found) << target;
  }
  EXPECT_EQ(server->stats().calls, 0U);
}

TEST(BrittleApi, BodyOfOneMebibyteIsServedAndLargerGets413) {
  auto server = start_server();
  ASSERT_TRUE(server);
  std::string largest(body_bytes_max, 'a');
  largest.back() = 'z';
  const Exchange served = post_api(server->port(), largest);
  ASSERT_TRUE(served.response) << served.error.message();
  EXPECT_EQ(served.response->result(), http::status::ok);
  ASSERT_EQ(served.response->body().size(), body_bytes_max);
  EXPECT_EQ(served.response->body().front(), 'z');

  for (const bool chunked : {false, true}) {
    Client client(server->port());
    const Exchange exchange =
        client.send(http::verb::post, "/api", std::string(body_bytes_max + 1, 'b'), {}, chunked);
    ASSERT_TRUE(exchange.response) << "chunked " << chunked << ": " << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::payload_too_large);
    EXPECT_FALSE(exchange.response->keep_alive());
    EXPECT_TRUE(client.closed_by_server());
  }
  EXPECT_EQ(server->stats().calls, 1U);
}

TEST(BrittleApi, MalformedRequestClosesTheConnection) {
  auto server = start_server();
  ASSERT_TRUE(server);
  for (std::string_view garbage : {"NOT HTTP AT ALL\r\n\r\n", "GET /up HTTP/9.9\r\n\r\n",
                                   "POST /api HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    Client client(server->port());
    asio::write(client.socket(), asio::buffer(garbage));
    const Exchange exchange = client.receive();
    EXPECT_TRUE(closed_without_answer(exchange)) << garbage << outcome_of(exchange);
  }
  // The server still serves.
  const Exchange exchange = post_api(server->port(), "abc");
  ASSERT_TRUE(exchange.response) << exchange.error.message();
  EXPECT_EQ(exchange.response->body(), "cba");
}

TEST(BrittleApi, AnswersExpect100Continue) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());
  const std::string header =
      "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  asio::write(client.socket(), asio::buffer(header));
  asio::streambuf interim;
  asio::read_until(client.socket(), interim, "\r\n\r\n");
  const std::string interim_text(asio::buffers_begin(interim.data()),
                                 asio::buffers_end(interim.data()));
  EXPECT_EQ(interim_text, "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(client.socket(), asio::buffer(std::string_view("xyz")));
  const Exchange exchange = client.receive();
  ASSERT_TRUE(exchange.response) << exchange.error.message();
  EXPECT_EQ(exchange.response->body(), "zyx");
}

std::vector<std::string> outcome_sequence(std::uint64_t seed, int count) {
  auto server = start_server(
      {.failure_rate = 0.5, .silent_failure_rate = 0.5, .seed = seed, .calls_log_path = {}});
  if (!server) return {};
  EXPECT_EQ(server->seed(), seed);
  std::vector<std::string> outcomes;
  for (int i = 0; i < count; ++i) {
    outcomes.push_back(outcome_of(post_api(server->port(), "ping")));  // a new connection each
  }
  return outcomes;
}

TEST(BrittleApi, SameSeedGivesSameOutcomes) {
  const std::vector<std::string> first = outcome_sequence(42, 60);
  const std::vector<std::string> second = outcome_sequence(42, 60);
  const std::vector<std::string> other = outcome_sequence(43, 60);
  ASSERT_EQ(first.size(), 60U);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
  for (const char* outcome : {"ok", "503", "dropped"}) {
    EXPECT_NE(std::find(first.begin(), first.end(), outcome), first.end()) << outcome;
  }
}

// Fencing tokens (issue 15): a call from a processor that lost its lease carries an older
// epoch than its successor's; a partner that checks them refuses it without doing the work.
TEST(BrittleApi, RejectsCallsWithAStaleLeaseEpochWhenAsked) {
  auto server = start_server(Options{.reject_stale_epochs = true});
  ASSERT_TRUE(server);
  auto send = [&](const char* epoch) {
    std::map<std::string, std::string> headers{{"Idempotency-Key", "k"}};
    if (epoch != nullptr) headers["Api-Broker-Lease-Epoch"] = epoch;
    Exchange exchange = Client(server->port()).send(http::verb::post, "/api", "ab", headers);
    EXPECT_TRUE(exchange.response) << exchange.error.message();
    return exchange.response ? exchange.response->result_int() : 0U;
  };
  EXPECT_EQ(send("3"), 200U);
  EXPECT_EQ(send("4"), 200U);  // a successor
  EXPECT_EQ(send("3"), 409U);  // the old holder, continued after a pause
  EXPECT_EQ(send("4"), 200U);
  EXPECT_EQ(send(nullptr), 200U);  // no token: not concerned
  EXPECT_EQ(server->stats().stale, 1U);
  EXPECT_EQ(get_json(server->port(), "/stats")["stale"], 1);

  auto plain = start_server();  // without the option, epochs are ignored
  ASSERT_TRUE(plain);
  std::map<std::string, std::string> old{{"Api-Broker-Lease-Epoch", "1"}};
  ASSERT_TRUE(Client(plain->port())
                  .send(http::verb::post, "/api", "x", {{"Api-Broker-Lease-Epoch", "2"}})
                  .response);
  auto exchange = Client(plain->port()).send(http::verb::post, "/api", "x", old);
  ASSERT_TRUE(exchange.response);
  EXPECT_EQ(exchange.response->result_int(), 200U);
}

TEST(BrittleApi, StatsCountCallsAndIdempotencyKeys) {
  auto server = start_server();
  ASSERT_TRUE(server);
  const std::uint16_t port = server->port();
  for (const char* key : {"key-a", "key-b", "key-a", "", "key-a", "\"odd\\key\""}) {
    const Exchange exchange = post_api(port, "x", key);
    ASSERT_TRUE(exchange.response) << exchange.error.message();
  }
  const std::string long_key(key_bytes_max + 1, 'k');
  ASSERT_TRUE(post_api(port, "x", long_key).response);

  const Json stats = get_json(port, "/stats");
  EXPECT_EQ(stats["calls"], 7);
  EXPECT_EQ(stats["succeeded"], 7);
  EXPECT_EQ(stats["failed"], 0);
  EXPECT_EQ(stats["dropped"], 0);
  EXPECT_EQ(stats["in_flight"], 0);
  EXPECT_EQ(stats["keys"], 3);
  EXPECT_EQ(stats["max_calls_per_key"], 3);
  EXPECT_EQ(stats["keys_overflow"], true);  // the long key was not counted

  const Json keys = get_json(port, "/stats/keys");
  EXPECT_EQ(keys, Json({{"key-a", 3}, {"key-b", 1}, {"\"odd\\key\"", 1}}));

  const Stats direct = server->stats();
  EXPECT_EQ(direct.calls, 7U);
  EXPECT_EQ(direct.succeeded, 7U);
  EXPECT_EQ(direct.keys, 3U);
  EXPECT_EQ(direct.max_calls_per_key, 3U);
  EXPECT_TRUE(direct.keys_overflow);
}

// Raises the soft limit of open files to what `needed` requires, if the hard limit allows.
bool ensure_open_files(rlim_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max < needed) return false;
  limit.rlim_cur = limit.rlim_max;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

// One POST /api on its own connection; counts the answers that are right.
asio::awaitable<void> call_reversed(tcp::endpoint endpoint, int index, int& answered) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(std::chrono::seconds(receive_timeout_seconds));  // hang guard only
  co_await stream.async_connect(endpoint, asio::use_awaitable);
  const std::string body = fmt::format("request {:04}", index);
  http::request<http::string_body> request{http::verb::post, "/api", 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = body;
  request.prepare_payload();
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  Response response;
  co_await http::async_read(stream, buffer, response, asio::use_awaitable);
  if (response.result() == http::status::ok &&
      response.body() == std::string(body.rbegin(), body.rend())) {
    ++answered;
  }
}

TEST(BrittleApi, HoldsTwoThousandSlowRequestsAtOnce) {
  constexpr int requests = 2000;
  if (!ensure_open_files(2 * requests + 100)) GTEST_SKIP() << "too few file descriptors allowed";
  auto server = start_server({.min_latency = 0.2, .max_latency = 0.2});
  ASSERT_TRUE(server);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), server->port());

  asio::io_context io(1);
  int answered = 0;
  int failed = 0;
  std::string first_error;
  for (int i = 0; i < requests; ++i) {
    asio::co_spawn(io, call_reversed(endpoint, i, answered), [&](std::exception_ptr exception) {
      if (!exception) return;
      ++failed;
      try {
        std::rethrow_exception(exception);
      } catch (const std::exception& error) {
        if (first_error.empty()) first_error = error.what();
      }
    });
  }
  io.run();
  EXPECT_EQ(answered, requests) << failed << " failed, the first with: " << first_error;
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, static_cast<std::uint64_t>(requests));
  EXPECT_EQ(stats.succeeded, static_cast<std::uint64_t>(requests));
  EXPECT_EQ(stats.in_flight, 0U);
}

TEST(BrittleApi, StopAbandonsCallsInFlight) {
  auto server = start_server({.min_latency = 3600, .max_latency = 3600});
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<Client>> clients;
  const std::string request = "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx";
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    asio::write(clients.back()->socket(), asio::buffer(request));
  }
  // Wait, by round trips and not by time, until the server holds all three.
  std::uint64_t in_flight = 0;
  for (int round = 0; round < 100'000 && in_flight < 3; ++round) {
    in_flight = get_json(server->port(), "/stats")["in_flight"].get<std::uint64_t>();
  }
  ASSERT_EQ(in_flight, 3U);
  server->stop();
  server->stop();  // idempotent
  for (auto& client : clients) EXPECT_TRUE(closed_without_answer(client->receive()));
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, 3U);
  EXPECT_EQ(stats.in_flight, 0U);
  EXPECT_EQ(stats.succeeded + stats.failed + stats.dropped, 0U);
}

TEST(BrittleApi, InvalidOptionsAreRejected) {
  const double nan = std::nan("");
  const std::vector<Options> invalid = {
      {.failure_rate = -0.1},
      {.failure_rate = 1.5},
      {.failure_rate = nan},
      {.silent_failure_rate = 2},
      {.min_latency = -1},
      {.max_latency = -1},
      {.min_latency = 2, .max_latency = 1},
      {.max_latency = std::numeric_limits<double>::infinity()},
      {.min_latency = nan, .max_latency = 1},
      {.max_latency = latency_seconds_max * 2},
  };
  for (const Options& options : invalid) {
    const Result<void> valid = validate(options);
    ASSERT_FALSE(valid);
    EXPECT_EQ(valid.error().code, Errc::invalid_input);
    EXPECT_EQ(valid.error().message.find('\n'), std::string::npos);
    auto server = Server::start("127.0.0.1:0", options);
    ASSERT_FALSE(server);
    EXPECT_EQ(server.error().code, Errc::invalid_input);
  }
  EXPECT_TRUE(validate({}));
  EXPECT_TRUE(validate(
      {.min_latency = 0.1, .max_latency = 0.1, .failure_rate = 1, .silent_failure_rate = 1}));
}

TEST(BrittleApi, BadAddressesAndBusyPortsAreReported) {
  for (const char* address : {"nonsense", "127.0.0.1:99999", "256.0.0.1:80", "::1:80"}) {
    auto server = Server::start(address, {});
    ASSERT_FALSE(server) << address;
    EXPECT_EQ(server.error().code, Errc::invalid_input) << address;
  }
  auto first = start_server();
  ASSERT_TRUE(first);
  auto second = Server::start(fmt::format("127.0.0.1:{}", first->port()), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::unavailable);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;

  EXPECT_EQ(first->url(), fmt::format("http://127.0.0.1:{}", first->port()));
  EXPECT_EQ(first->address(), fmt::format("127.0.0.1:{}", first->port()));

  auto unwritable_log = Server::start("127.0.0.1:0", {.calls_log_path = "/nonexistent/dir/x"});
  ASSERT_FALSE(unwritable_log);
  EXPECT_EQ(unwritable_log.error().code, Errc::unavailable);
}

TEST(BrittleApi, ServeReportsStartErrorsAndReturnsWhenAsked) {
  int polls = 0;
  const auto never = [&polls] { return ++polls > 1'000'000'000; };
  const Result<void> bad = serve("127.0.0.1:0", {.failure_rate = 7}, never);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_input);
  EXPECT_EQ(polls, 0);

  const Result<void> served = serve("127.0.0.1:0", {}, [&polls] { return ++polls >= 2; });
  EXPECT_TRUE(served);
  EXPECT_EQ(polls, 2);
}

TEST(BrittleApi, CallsLogHasOneLinePerCall) {
  const auto path = std::filesystem::path(testing::TempDir()) /
                    fmt::format("brittle_api_calls_{}.jsonl", ::getpid());
  std::filesystem::remove(path);
  std::map<std::string, std::string> outcome_by_key;
  {
    auto server = start_server({.min_latency = 0.001,
                                .max_latency = 0.002,
                                .failure_rate = 0.5,
                                .silent_failure_rate = 0.5,
                                .seed = 7,
                                .calls_log_path = path.string()});
    ASSERT_TRUE(server);
    for (int i = 0; i < 30; ++i) {
      const std::string key = fmt::format("key-{}", i);
      // Every third call names its attempt; one names a malformed one.
      std::map<std::string, std::string> headers{{"Idempotency-Key", key}};
      if (i % 3 == 0) headers["Api-Broker-Attempt"] = std::to_string(i);
      if (i == 1) headers["Api-Broker-Attempt"] = "1x";
      outcome_by_key[key] =
          outcome_of(Client(server->port()).send(http::verb::post, "/api", "x", headers));
    }
    // And one call without a key, whatever its outcome.
    static_cast<void>(post_api(server->port(), "x"));
    // stop() flushes the log.
    server->stop();
  }
  std::ifstream file(path);
  std::string line;
  std::map<std::string, std::string> logged;
  int lines = 0;
  while (std::getline(file, line)) {
    ++lines;
    const Json entry = Json::parse(line);
    EXPECT_GT(entry["t_us"].get<std::int64_t>(), 1'600'000'000'000'000);
    const double latency_ms = entry["latency_ms"].get<double>();
    EXPECT_GE(latency_ms, 1.0);
    EXPECT_LE(latency_ms, 2.0);
    const auto key = entry["key"].get<std::string>();
    if (!key.empty()) logged[key] = entry["outcome"].get<std::string>();
    // Received before its outcome was applied.
    EXPECT_LE(entry["received_us"].get<std::int64_t>(), entry["t_us"].get<std::int64_t>()) << line;
    const int number = key.empty() ? -1 : std::stoi(key.substr(4));
    if (number >= 0 && number % 3 == 0) {
      EXPECT_EQ(entry["attempt"], number) << line;
    } else {
      EXPECT_TRUE(entry["attempt"].is_null()) << line;
    }
  }
  EXPECT_EQ(lines, 31);
  EXPECT_EQ(logged, outcome_by_key);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace api_broker::brittle_api
