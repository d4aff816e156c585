// How the HTTP client reads an answer: Retry-After, bodies cut to the stored cap or refused
// past the read cap, bounded headers, interim and 101 answers.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/http/http_client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "unit/http/http_client_fixture.hpp"
#include "unit/http/test_server.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using test::HttpClientTest;
using test::Reply;
using test::respond;
using test::SeenRequest;
using test::TestServer;

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

TEST_F(HttpClientTest, LongBodyIsTruncated) {
  const std::string body(10000, 'x');
  TestServer server([&body](const SeenRequest& seen) {
    Reply reply = respond(200, body);
    reply.chunked = seen.body == "chunked";
    reply.until_close = seen.body == "until-close";
    return reply;
  });
  ClientOptions options;
  options.response_bytes_stored_max = 100;
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
  options.response_bytes_stored_max = 100;
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
  options.response_bytes_stored_max = 10;
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

}  // namespace
}  // namespace api_broker::http
