// Client against the scripted TestServer. No timing assertions: the loop runs until the
// expected handlers ran, with a generous bound only so that a bug fails instead of hanging.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/http/http_client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "unit/http/test_server.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using test::Reply;
using test::SeenRequest;
using test::TestServer;

// Runs `io` until `done()` holds; false if it still does not after a bound meant for bugs.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    io.run_one_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

// Runs `io` until it has no work left (the bound only catches bugs).
void run_idle(boost::asio::io_context& io) {
  io.restart();
  io.run_for(60s);
}

Reply respond(unsigned status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

Reply close_without_answer() {
  Reply reply;
  reply.action = Reply::Action::close;
  return reply;
}

Reply never_answer() {
  Reply reply;
  reply.action = Reply::Action::hang;
  return reply;
}

class HttpClientTest : public ::testing::Test {
 protected:
  // One call, run to completion.
  Result<Response> call(Client& client, const Url& url, std::string body = "ping",
                        std::vector<Header> headers = {}, std::chrono::milliseconds limit = 0ms) {
    std::optional<Result<Response>> out;
    client.post(url, "/call", std::move(body), std::move(headers), limit,
                [&](Result<Response> result) { out.emplace(std::move(result)); });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    if (!out) return fail(Errc::unavailable, "test: no completion");
    return std::move(*out);
  }

  boost::asio::io_context io_;
};

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

TEST_F(HttpClientTest, SequentialCallsReuseOneConnection) {
  TestServer server([](const SeenRequest& seen) { return respond(200, seen.body); });
  Client client(io_.get_executor());
  const Url url = server.url();
  int finished = 0;
  int succeeded = 0;
  std::function<void()> next = [&] {
    client.post(url, "/n", std::to_string(finished), {}, 0ms, [&](Result<Response> result) {
      if (result && result->body == std::to_string(finished)) ++succeeded;
      if (++finished < 100) next();  // from inside the handler: allowed
    });
  };
  next();
  ASSERT_TRUE(run_until(io_, [&] { return finished == 100; }));
  EXPECT_EQ(succeeded, 100);
  EXPECT_EQ(server.accepts(), 1u);
  EXPECT_EQ(server.requests(), 100u);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(HttpClientTest, RetryAfterInSeconds) {
  TestServer server([](const SeenRequest&) {
    Reply reply = respond(503, "busy");
    reply.headers = {{"Retry-After", "7"}};
    return reply;
  });
  Client client(io_.get_executor());
  auto result = call(client, server.url());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 503);
  EXPECT_EQ(result->body, "busy");
  ASSERT_TRUE(result->retry_after_seconds.has_value());
  EXPECT_EQ(*result->retry_after_seconds, 7.0);
}

TEST_F(HttpClientTest, RetryAfterAsHttpDate) {
  // An hour ahead, and a date long past.
  const auto in_an_hour =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + 1h;
  const auto day = std::chrono::floor<std::chrono::days>(in_an_hour);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{in_an_hour - day};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static constexpr const char* weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  const std::string future = fmt::format(
      "{}, {:02} {} {} {:02}:{:02}:{:02} GMT", weekdays[std::chrono::weekday{day}.c_encoding()],
      static_cast<unsigned>(date.day()), months[static_cast<unsigned>(date.month()) - 1],
      static_cast<int>(date.year()), time.hours().count(), time.minutes().count(),
      time.seconds().count());

  TestServer server([future](const SeenRequest& seen) {
    Reply reply = respond(503, "");
    reply.headers = {
        {"Retry-After", seen.body == "future" ? future : "Sun, 06 Nov 1994 08:49:37 GMT"}};
    return reply;
  });
  Client client(io_.get_executor());
  auto ahead = call(client, server.url(), "future");
  ASSERT_TRUE(ahead) << ahead.error().message;
  ASSERT_TRUE(ahead->retry_after_seconds.has_value()) << future;
  EXPECT_GT(*ahead->retry_after_seconds, 0.0);
  EXPECT_LE(*ahead->retry_after_seconds, 3600.0);

  auto past = call(client, server.url(), "past");
  ASSERT_TRUE(past) << past.error().message;
  ASSERT_TRUE(past->retry_after_seconds.has_value());
  EXPECT_EQ(*past->retry_after_seconds, 0.0);
}

TEST_F(HttpClientTest, UnparsableRetryAfterIsAbsent) {
  TestServer server([](const SeenRequest&) {
    Reply reply = respond(429, "");
    reply.headers = {{"Retry-After", "soon"}};
    return reply;
  });
  Client client(io_.get_executor());
  auto result = call(client, server.url());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 429);
  EXPECT_FALSE(result->retry_after_seconds.has_value());
}

TEST_F(HttpClientTest, ServerClosingWithoutAnswerIsReportedNotRetried) {
  TestServer server([](const SeenRequest&) { return close_without_answer(); });
  Client client(io_.get_executor());
  auto result = call(client, server.url());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_EQ(result.error().message, "connection closed without a response");
  EXPECT_EQ(server.accepts(), 1u);
  EXPECT_EQ(server.requests(), 1u);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(HttpClientTest, IdleConnectionClosedByTheServerIsNotReused) {
  // The server closes each connection after its response without saying so. Once its close
  // has arrived, the client notices it before reuse and opens a new connection. (A request
  // written on a connection whose close is still on its way fails instead: see
  // ReusedConnectionDroppedAfterTheRequestIsNotSentAgain.)
  TestServer server([](const SeenRequest&) {
    Reply reply = respond(200, "ok");
    reply.close_after = true;
    return reply;
  });
  Client client(io_.get_executor());
  for (int i = 0; i < 3; ++i) {
    auto result = call(client, server.url());
    ASSERT_TRUE(result) << i << ": " << result.error().message;
    EXPECT_EQ(result->body, "ok");
    // Let the server's close arrive over loopback before the next call.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(server.accepts(), 3u);
}

TEST_F(HttpClientTest, ReusedConnectionDroppedAfterTheRequestIsNotSentAgain) {
  // The server read the whole request, then closed: it may have acted on it, so a second,
  // unrecorded send would hide an attempt from the log. The caller's policy decides.
  TestServer server([](const SeenRequest& seen) {
    if (seen.connection == 1 && seen.request_on_connection == 2) return close_without_answer();
    return respond(200, "ok");
  });
  Client client(io_.get_executor());
  ASSERT_TRUE(call(client, server.url()));
  auto result = call(client, server.url());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "connection closed without a response");
  EXPECT_EQ(server.accepts(), 1u);
  EXPECT_EQ(server.requests(), 2u);
  auto next = call(client, server.url());  // a new connection for the next call
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(server.accepts(), 2u);
}

TEST_F(HttpClientTest, ConnectionRefused) {
  Client client(io_.get_executor());
  auto result = call(client, Url{"127.0.0.1", test::unused_port(), ""});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_EQ(result.error().message, "connection refused");
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST_F(HttpClientTest, HostNameIsResolved) {
  TestServer server([](const SeenRequest&) { return respond(200, "named"); });
  Client client(io_.get_executor());
  const Url url{"localhost", server.port(), ""};
  for (int i = 0; i < 2; ++i) {  // the second connection reuses the addresses found
    auto result = call(client, url);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->body, "named");
  }
  EXPECT_EQ(server.last_request()->headers.at("host"), fmt::format("localhost:{}", server.port()));
}

TEST_F(HttpClientTest, UnknownHostIsReported) {
  Client client(io_.get_executor());
  auto result = call(client, Url{"no-such-host.invalid", 80, ""});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_EQ(result.error().message.rfind("cannot resolve host 'no-such-host.invalid'", 0), 0u)
      << result.error().message;
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

TEST_F(HttpClientTest, LongBodyIsTruncated) {
  const std::string body(10000, 'x');
  TestServer server([&body](const SeenRequest& seen) {
    Reply reply = respond(200, body);
    reply.chunked = seen.body == "chunked";
    reply.until_close = seen.body == "until-close";
    return reply;
  });
  ClientOptions options;
  options.body_bytes_stored_max = 100;
  Client client(io_.get_executor(), options);
  for (const char* mode : {"plain", "chunked", "until-close"}) {
    auto result = call(client, server.url(), mode);
    ASSERT_TRUE(result) << mode << ": " << result.error().message;
    EXPECT_EQ(result->body, body.substr(0, 100)) << mode;
    EXPECT_TRUE(result->truncated) << mode;
    EXPECT_EQ(result->body_bytes, 10000u) << mode;
  }
  // A truncated body is still read to its end, so the connection was reused until the
  // server closed it after the body that ends with the connection.
  EXPECT_EQ(server.accepts(), 1u);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(HttpClientTest, BodyAtTheStoredLimitIsWhole) {
  TestServer server([](const SeenRequest&) { return respond(200, std::string(100, 'y')); });
  ClientOptions options;
  options.body_bytes_stored_max = 100;
  Client client(io_.get_executor(), options);
  auto result = call(client, server.url());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body.size(), 100u);
  EXPECT_FALSE(result->truncated);
}

TEST_F(HttpClientTest, BodyOverTheReadCapFails) {
  TestServer server([](const SeenRequest& seen) {
    Reply reply = respond(200, std::string(seen.body == "small" ? 1000 : 1001, 'z'));
    reply.chunked = seen.body == "chunked";
    reply.until_close = seen.body == "until-close";
    return reply;
  });
  ClientOptions options;
  options.body_bytes_stored_max = 10;
  options.body_bytes_read_max = 1000;
  Client client(io_.get_executor(), options);
  auto small = call(client, server.url(), "small");
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->body_bytes, 1000u);
  for (const char* mode : {"plain", "chunked", "until-close"}) {
    auto result = call(client, server.url(), mode);
    ASSERT_FALSE(result) << mode;
    EXPECT_EQ(result.error().code, Errc::unavailable);
    EXPECT_EQ(result.error().message, "response body larger than 1000 bytes") << mode;
    EXPECT_EQ(client.open_connections(), 0u) << mode;
  }
}

// Headers are not stored, but they are read: the parser bounds them (64 KiB in all), and a
// larger header section fails the call instead of growing memory.
TEST_F(HttpClientTest, HugeHeadersFailTheCall) {
  TestServer server([](const SeenRequest& seen) {
    Reply reply = respond(200, "fine");
    // 70 fields of 1 KiB (Beast caps one field below 64 KiB).
    const int fields = seen.body == "big" ? 70 : 1;
    for (int i = 0; i < fields; ++i) {
      reply.headers.emplace_back(fmt::format("X-Padding-{}", i), std::string(1024, 'h'));
    }
    return reply;
  });
  Client client(io_.get_executor());
  auto small = call(client, server.url(), "small");
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->body, "fine");
  auto big = call(client, server.url(), "big");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::unavailable);
  EXPECT_EQ(big.error().message, "response header larger than 65536 bytes");
}

TEST_F(HttpClientTest, ConnectionCloseIsHonoured) {
  TestServer server([](const SeenRequest&) {
    Reply reply = respond(200, "bye");
    reply.headers = {{"Connection", "close"}};
    reply.close_after = true;
    return reply;
  });
  Client client(io_.get_executor());
  for (int i = 0; i < 2; ++i) {
    auto result = call(client, server.url());
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(client.open_connections(), 0u);
  }
  EXPECT_EQ(server.accepts(), 2u);
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

// Issue 15: a 103 Early Hints before the 200 was taken as the answer, and the request failed
// as "HTTP 103" although the API did the work.
TEST_F(HttpClientTest, InterimAnswersAreSkipped) {
  TestServer server([](const SeenRequest&) {
    Reply reply;
    reply.raw =
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Final: yes\r\n\r\ndone";
    return reply;
  });
  Client client(io_.get_executor());
  for (int i = 0; i < 2; ++i) {
    auto result = call(client, server.url());
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->body, "done");
  }
  EXPECT_EQ(server.accepts(), 1u);  // the connection served both: nothing was left unread
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(HttpClientTest, EndlessInterimAnswersFailTheCall) {
  TestServer server([](const SeenRequest&) {
    Reply reply;
    for (std::size_t i = 0; i <= limits::http_interim_responses_max; ++i) {
      reply.raw += "HTTP/1.1 103 Early Hints\r\n\r\n";
    }
    reply.raw += "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    return reply;
  });
  Client client(io_.get_executor());
  auto result = call(client, server.url());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            fmt::format("malformed response: more than {} interim (1xx) responses",
                        limits::http_interim_responses_max));
  EXPECT_EQ(client.open_connections(), 0u);
}

// 101 Switching Protocols is not expected: it is the call's answer (the caller records a
// failure), and the connection, switched to another protocol, is not used again.
TEST_F(HttpClientTest, SwitchingProtocolsIsAnAnswerThatClosesTheConnection) {
  TestServer server([](const SeenRequest&) {
    Reply reply;
    reply.raw =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    return reply;
  });
  Client client(io_.get_executor());
  auto result = call(client, server.url());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 101);
  EXPECT_EQ(client.open_connections(), 0u);
}

// Issue 15: the processor opened a connection per call whatever its open-files limit.
TEST(HttpConnectionsFor, LeavesTheReserveAndStaysWithinTheBound) {
  EXPECT_EQ(limits::http_connections_for(0), 1u);
  EXPECT_EQ(limits::http_connections_for(1), 1u);
  EXPECT_EQ(limits::http_connections_for(10), 5u);
  EXPECT_EQ(limits::http_connections_for(64), 32u);
  EXPECT_EQ(limits::http_connections_for(1024), 1024u - limits::descriptors_reserved);
  EXPECT_EQ(limits::http_connections_for(1u << 20), limits::http_connections_max);
  EXPECT_EQ(limits::http_connections_for(~std::uint64_t{0}), limits::http_connections_max);
}

// Issue 15: after a burst thousands of idle keep-alive connections stayed open.
TEST_F(HttpClientTest, IdleConnectionsBeyondTheCapAreClosed) {
  TestServer server([](const SeenRequest& seen) {
    Reply reply = respond(200, seen.body);
    reply.delay = 20ms;  // the calls overlap: ten connections
    return reply;
  });
  ClientOptions options;
  options.connections_max = 10;
  options.idle_connections_max = 3;
  Client client(io_.get_executor(), options);
  int succeeded = 0;
  for (int i = 0; i < 10; ++i) {
    client.post(server.url(), "/", "x", {}, 0ms, [&](Result<Response> result) {
      if (result && result->status == 200) ++succeeded;
    });
  }
  ASSERT_TRUE(run_until(io_, [&] { return succeeded == 10; }));
  EXPECT_LE(client.idle_connections(), 3u);
  EXPECT_EQ(client.open_connections(), client.idle_connections());
}

TEST_F(HttpClientTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  TestServer server([](const SeenRequest&) { return respond(200, "ok"); });
  ClientOptions options;
  options.idle_timeout = 1ms;
  Client client(io_.get_executor(), options);
  auto result = call(client, server.url());
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_TRUE(run_until(io_, [&] { return client.open_connections() == 0; }));
  auto again = call(client, server.url());  // a new connection serves the next call
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(server.accepts(), 2u);
}

// A TestServer in a child process: the descriptors it takes are not the test's.
class ForkedServer {
 public:
  explicit ForkedServer(TestServer::Handler handler) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      TestServer server(std::move(handler));
      const std::uint16_t port = server.port();
      if (::write(fds[1], &port, sizeof port) != sizeof port) ::_exit(1);
      for (;;) ::pause();  // until the parent kills it
    }
    ::close(fds[1]);
    if (pid_ > 0 && ::read(fds[0], &port_, sizeof port_) != sizeof port_) port_ = 0;
    ::close(fds[0]);
  }
  ~ForkedServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ForkedServer(const ForkedServer&) = delete;
  ForkedServer& operator=(const ForkedServer&) = delete;

  Url url() const { return Url{"127.0.0.1", port_, ""}; }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// Issue 15: with too few descriptors, calls failed "Too many open files" (and the processor
// burnt their retries) although the API answered every call it got. Now a call that finds no
// descriptor waits for a connection of the pool to free.
TEST_F(HttpClientTest, CallsWaitForADescriptorInsteadOfFailing) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' runtimes need descriptors of their own: with four left the test hung under
  // ASan. The end-to-end Broker.FewDescriptorsDelayCallsButFailNone covers it there.
  GTEST_SKIP() << "needs a process without a sanitizer runtime (it lowers RLIMIT_NOFILE to 4)";
#endif
  ForkedServer server([](const SeenRequest& seen) {
    Reply reply = respond(200, seen.body);
    reply.delay = 10ms;
    return reply;
  });
  ASSERT_NE(server.port(), 0);
  ClientOptions options;
  options.connections_max = 100;  // more than the descriptors left: the limit decides
  Client client(io_.get_executor(), options);
  // given a process that may open only four more descriptors
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = open_descriptors() + 4;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  // when 40 calls are made at once
  int finished = 0;
  std::vector<std::string> failures;
  std::size_t open_max = 0;
  for (int i = 0; i < 40; ++i) {
    client.post(server.url(), "/", std::to_string(i), {}, 0ms, [&, i](Result<Response> result) {
      ++finished;
      open_max = std::max(open_max, client.open_connections());
      if (!result) failures.push_back(result.error().message);
      if (result && result->body != std::to_string(i)) failures.push_back("wrong body");
    });
  }
  const bool done = run_until(io_, [&] { return finished == 40; });
  setrlimit(RLIMIT_NOFILE, &saved);
  // then every call succeeds, on the connections that could be opened
  ASSERT_TRUE(done);
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_GT(client.local_shortages(), 0u);
  EXPECT_LE(open_max, 4u);
}

}  // namespace
}  // namespace api_broker::http
