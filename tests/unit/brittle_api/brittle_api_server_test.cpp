// The brittle API as a server: thousands of slow calls at once, stopping, options and
// addresses it refuses, and the foreground serve().

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/brittle_api/brittle_api.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "unit/brittle_api/brittle_api_fixture.hpp"

namespace api_broker::brittle_api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using test::Client;
using test::closed_without_answer;
using test::get_json;
using test::receive_timeout_seconds;
using test::Response;
using test::start_server;

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

}  // namespace
}  // namespace api_broker::brittle_api
