// The brittle API's HTTP surface: its paths and methods, keep-alive, bodies, malformed
// requests and 100 Continue.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/brittle_api/brittle_api.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "unit/brittle_api/brittle_api_fixture.hpp"

namespace api_broker::brittle_api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using test::Client;
using test::closed_without_answer;
using test::Exchange;
using test::outcome_of;
using test::post_api;
using test::start_server;

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

TEST(BrittleApi, OtherMethodsOnItsOwnPathsGet400) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());
  const std::vector<std::pair<http::verb, std::string>> bad_requests = {
      {http::verb::post, "/up"},
      {http::verb::put, "/up"},
      {http::verb::post, "/stats"},
      {http::verb::post, "/stats/keys"}};
  for (const auto& [method, target] : bad_requests) {
    const Exchange exchange = client.send(method, target, "x");
    ASSERT_TRUE(exchange.response) << target << ": " << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::bad_request) << target;
  }
  EXPECT_EQ(server->stats().calls, 0U);
}

// A partner's API has its own methods and paths: every other request is a call of the API.
TEST(BrittleApi, AnyOtherMethodAndPathIsACall) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client client(server->port());
  const std::vector<std::pair<http::verb, std::string>> calls = {
      {http::verb::put, "/api"},     {http::verb::get, "/api?x=1"},
      {http::verb::delete_, "/api"}, {http::verb::patch, "/v1/items"},
      {http::verb::get, "/"},        {http::verb::post, "/UP"}};
  for (const auto& [method, target] : calls) {
    const Exchange exchange = client.send(method, target, method == http::verb::get ? "" : "abc");
    ASSERT_TRUE(exchange.response) << target << ": " << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::ok) << target;
    EXPECT_EQ(exchange.response->body(), method == http::verb::get ? "" : "cba") << target;
  }
  const Exchange head = client.send(http::verb::head, "/v1/items");
  ASSERT_TRUE(head.response) << head.error.message();
  EXPECT_EQ(head.response->result(), http::status::ok);
  EXPECT_EQ(server->stats().calls, calls.size() + 1);
}

TEST(BrittleApi, RedirectAnswers302ToApi) {
  auto server = start_server();
  ASSERT_TRUE(server);
  const Exchange exchange = Client(server->port()).send(http::verb::get, "/redirect/v2?x=1");
  ASSERT_TRUE(exchange.response) << exchange.error.message();
  EXPECT_EQ(exchange.response->result(), http::status::found);
  EXPECT_EQ((*exchange.response)[http::field::location], "/api/v2?x=1");
  EXPECT_EQ(server->stats().calls, 0U) << "no call of the API";
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

}  // namespace
}  // namespace api_broker::brittle_api
