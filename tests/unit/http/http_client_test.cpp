// The HTTP client's calls: what one post() sends, and how every call completes exactly
// once: cancelled, bounded, refused before it starts, or with the client destroyed.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/http/http_client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "unit/http/http_client_fixture.hpp"
#include "unit/http/test_server.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using test::HttpClientTest;
using test::never_answer;
using test::Reply;
using test::respond;
using test::run_idle;
using test::run_until;
using test::SeenRequest;
using test::TestServer;

TEST_F(HttpClientTest, RoundTripCarriesBodyAndHeaders) {
  TestServer server([](const SeenRequest& seen) { return respond(200, "echo:" + seen.body); });
  Client client(io_.get_executor());
  auto result =
      call(client, server.url("/v1"), "hello", {{"Idempotency-Key", "4f1c"}, {"X-Attempt", "2"}});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "echo:hello");
  EXPECT_FALSE(result->truncated);
  EXPECT_EQ(result->body_bytes, 10u);
  EXPECT_FALSE(result->retry_after_seconds.has_value());

  const auto seen = server.last_request();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->target, "/v1/call");
  EXPECT_EQ(seen->body, "hello");
  EXPECT_EQ(seen->headers.at("idempotency-key"), "4f1c");
  EXPECT_EQ(seen->headers.at("x-attempt"), "2");
  EXPECT_EQ(seen->headers.at("content-type"), "application/octet-stream");
  EXPECT_EQ(seen->headers.at("content-length"), "5");
  EXPECT_EQ(seen->headers.at("user-agent"), "api-broker");
  EXPECT_EQ(seen->headers.at("host"), fmt::format("127.0.0.1:{}", server.port()));
  EXPECT_EQ(client.in_flight(), 0u);
}

// Issue 15: a processor paused past its lease sent, once continued, the calls it had started
// before the pause. The sender is asked right before each request is written.
TEST_F(HttpClientTest, ACallTheSenderMayNoLongerSendIsNotWritten) {
  TestServer server([](const SeenRequest& seen) { return respond(200, seen.body); });
  bool may = false;
  Client client(io_.get_executor(), ClientOptions{.may_send = [&] { return may; }});
  auto refused = call(client, server.url());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::fenced) << refused.error().message;
  EXPECT_FALSE(server.last_request().has_value());
  EXPECT_EQ(client.in_flight(), 0u);
  may = true;
  auto sent = call(client, server.url(), "now");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(server.last_request()->body, "now");
}

TEST_F(HttpClientTest, CallerMaySetContentType) {
  TestServer server([](const SeenRequest&) { return respond(204, ""); });
  Client client(io_.get_executor());
  auto result = call(client, server.url(), "{}", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 204);
  EXPECT_EQ(server.last_request()->headers.at("content-type"), "application/json");
  EXPECT_EQ(server.last_request()->target, "/call");
}

TEST_F(HttpClientTest, LimitElapsesOnSilentServer) {
  TestServer server([](const SeenRequest&) { return never_answer(); });
  Client client(io_.get_executor());
  auto result = call(client, server.url(), "ping", {}, 50ms);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_EQ(result.error().message, "call exceeded limit of 50 ms");
  EXPECT_EQ(client.open_connections(), 0u);  // the connection cannot be reused: closed
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST_F(HttpClientTest, CancelQueuedCallCompletesOnceWithCancelled) {
  TestServer server([](const SeenRequest&) { return respond(200, "late"); });
  Client client(io_.get_executor());
  int calls = 0;
  std::optional<Errc> code;
  const CallId id = client.post(server.url(), "/", "x", {}, 0ms, [&](Result<Response> result) {
    ++calls;
    if (!result) code = result.error().code;
  });
  client.cancel(id);
  EXPECT_EQ(calls, 0);  // never inline
  EXPECT_EQ(client.in_flight(), 0u);
  client.cancel(id);  // already finished: no effect
  run_idle(io_);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(code, Errc::cancelled);
}

TEST_F(HttpClientTest, CancelDuringTheRequestClosesItsConnection) {
  boost::asio::io_context& io = io_;
  std::optional<CallId> id;
  Client* client_on_loop = nullptr;
  // The server asks the client's loop to cancel once the request has arrived.
  TestServer server([&](const SeenRequest&) {
    boost::asio::post(io, [&] { client_on_loop->cancel(*id); });
    return never_answer();
  });
  Client client(io_.get_executor());
  client_on_loop = &client;
  int calls = 0;
  std::optional<Result<Response>> out;
  id = client.post(server.url(), "/", "x", {}, 0ms, [&](Result<Response> result) {
    ++calls;
    out.emplace(std::move(result));
  });
  ASSERT_TRUE(run_until(io_, [&] { return calls > 0; }));
  run_idle(io_);  // nothing else is pending: the loop runs dry
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(*out);
  EXPECT_EQ(out->error().code, Errc::cancelled);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(HttpClientTest, ThousandConcurrentCallsComplete) {
  TestServer server([](const SeenRequest& seen) {
    Reply reply = respond(200, seen.body);
    reply.delay = 50ms;
    return reply;
  });
  ClientOptions options;
  options.connections_max = 200;  // also exercises the FIFO queue; stays under 1024 fds
  Client client(io_.get_executor(), options);
  constexpr int calls = 1000;
  int finished = 0;
  int succeeded = 0;
  std::size_t open_max = 0;
  for (int i = 0; i < calls; ++i) {
    client.post(server.url(), "/", std::to_string(i), {}, 0ms, [&, i](Result<Response> result) {
      ++finished;
      if (result && result->status == 200 && result->body == std::to_string(i)) ++succeeded;
      open_max = std::max(open_max, client.open_connections());
    });
  }
  EXPECT_EQ(client.in_flight(), static_cast<std::size_t>(calls));
  EXPECT_LE(client.open_connections(), 200u);
  ASSERT_TRUE(run_until(io_, [&] { return finished == calls; }));
  EXPECT_EQ(succeeded, calls);
  EXPECT_LE(open_max, 200u);
  EXPECT_LE(server.accepts(), 200u);
  EXPECT_LE(server.connections_open_peak(), 200u);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST_F(HttpClientTest, CallsBeyondTheBoundFail) {
  TestServer server([](const SeenRequest&) { return never_answer(); });
  ClientOptions options;
  options.calls_max = 2;
  Client client(io_.get_executor(), options);
  std::vector<std::string> errors;
  for (int i = 0; i < 3; ++i) {
    client.post(server.url(), "/", "x", {}, 0ms, [&](Result<Response> result) {
      errors.push_back(result ? "ok" : result.error().message);
    });
  }
  EXPECT_EQ(client.in_flight(), 2u);
  ASSERT_TRUE(run_until(io_, [&] { return !errors.empty(); }));
  EXPECT_EQ(errors, std::vector<std::string>{"too many calls in flight (2)"});
}

TEST_F(HttpClientTest, BadHeaderFailsAfterPostReturns) {
  Client client(io_.get_executor());
  int calls = 0;
  std::optional<Errc> code;
  client.post(Url{"127.0.0.1", 1, ""}, "/", "x", {{"X-Evil", "a\r\nInjected: 1"}}, 0ms,
              [&](Result<Response> result) {
                ++calls;
                if (!result) code = result.error().code;
              });
  EXPECT_EQ(calls, 0);
  run_idle(io_);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(code, Errc::invalid_input);
  for (const Header& header : std::vector<Header>{{"Content-Length", "3"}, {"Bad Name", "v"}}) {
    client.post(Url{"127.0.0.1", 1, ""}, "/", "x", {header}, 0ms, [&](Result<Response> result) {
      ++calls;
      if (!result) code = result.error().code;
    });
  }
  run_idle(io_);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(code, Errc::invalid_input);
}

TEST_F(HttpClientTest, DestroyingTheClientRunsNoHandler) {
  TestServer server([](const SeenRequest&) { return never_answer(); });
  int calls = 0;
  {
    Client client(io_.get_executor());
    for (int i = 0; i < 10; ++i) {
      client.post(server.url(), "/", "x", {}, 1h, [&](Result<Response>) { ++calls; });
    }
    const CallId cancelled =
        client.post(server.url(), "/", "x", {}, 0ms, [&](Result<Response>) { ++calls; });
    ASSERT_TRUE(run_until(io_, [&] { return server.requests() == 11; }));
    client.cancel(cancelled);  // its handler is scheduled, not yet run
  }
  run_idle(io_);
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpClientTest, HandlerMayDestroyTheClient) {
  TestServer server([](const SeenRequest&) { return respond(200, "ok"); });
  auto client = std::make_unique<Client>(io_.get_executor());
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    client->post(server.url(), "/", "x", {}, 0ms, [&](Result<Response>) {
      ++calls;
      client.reset();
    });
  }
  run_idle(io_);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(client, nullptr);
}

}  // namespace
}  // namespace api_broker::http
