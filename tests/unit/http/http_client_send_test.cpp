// Client::send(): any method with its own headers and body, HEAD without a body, and
// redirects, returned (with their Location) or followed within the call's limit.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/http/http_client.hpp"
#include "unit/http/http_client_fixture.hpp"
#include "unit/http/test_server.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using test::respond;
using test::run_until;
using test::SeenRequest;
using test::TestServer;

class HttpClientSendTest : public test::HttpClientTest {
 protected:
  Result<Response> send(Client& client, Call call) {
    std::optional<Result<Response>> out;
    client.send(std::move(call), [&](Result<Response> result) { out.emplace(std::move(result)); });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    if (!out) return fail(Errc::unavailable, "test: no completion");
    return std::move(*out);
  }
};

test::Reply redirect(unsigned status, std::string location) {
  test::Reply reply = respond(status, "moved");
  reply.headers.emplace_back("Location", std::move(location));
  return reply;
}

TEST_F(HttpClientSendTest, SendsTheMethodTargetHeadersAndBody) {
  std::vector<SeenRequest> seen;
  TestServer server([&](const SeenRequest& request) {
    seen.push_back(request);
    return respond(200, "ok");
  });
  Client client(io_.get_executor());
  for (const char* method : {"PUT", "PATCH", "DELETE", "POST"}) {
    auto result = send(client, Call{.method = method,
                                    .url = server.url("/v2"),
                                    .target = "/orders/7?x=1",
                                    .body = "{}",
                                    .headers = {{"Authorization", "Bearer t"},
                                                {"Content-Type", "application/json"}}});
    ASSERT_TRUE(result) << result.error().message;
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[2].method, "DELETE");
  EXPECT_EQ(seen[3].method, "POST");
  for (const SeenRequest& request : seen) {
    EXPECT_EQ(request.target, "/v2/orders/7?x=1");
    EXPECT_EQ(request.body, "{}");
    EXPECT_EQ(request.headers.at("authorization"), "Bearer t");
    EXPECT_EQ(request.headers.at("content-type"), "application/json");
  }
}

TEST_F(HttpClientSendTest, GetSendsNoBodyNorContentType) {
  TestServer server([](const SeenRequest&) { return respond(200, "list"); });
  Client client(io_.get_executor());
  auto result = send(client, Call{.method = "GET", .url = server.url(), .target = "/items"});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, "list");
  const auto seen = server.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method, "GET");
  EXPECT_EQ(seen->body, "");
  EXPECT_EQ(seen->headers.count("content-type"), 0u);
  EXPECT_EQ(seen->headers.count("content-length"), 0u);
}

// The answer to HEAD announces a body it does not send: the client must not wait for it, and
// the connection serves the next call.
TEST_F(HttpClientSendTest, HeadReadsNoBodyAndKeepsTheConnection) {
  TestServer server([](const SeenRequest& request) {
    test::Reply reply;
    if (request.method == "HEAD") {
      reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    } else {
      reply = respond(200, "hello");
    }
    return reply;
  });
  Client client(io_.get_executor());
  auto head = send(client, Call{.method = "HEAD", .url = server.url(), .limit = 5s});
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto get = send(client, Call{.method = "GET", .url = server.url(), .limit = 5s});
  ASSERT_TRUE(get) << get.error().message;
  EXPECT_EQ(get->body, "hello");
  EXPECT_EQ(server.accepts(), 1u);
}

TEST_F(HttpClientSendTest, RefusesAnUnknownMethodAndABodyWithGet) {
  Client client(io_.get_executor());
  const Url nowhere{"127.0.0.1", test::unused_port(), ""};
  auto trace = send(client, Call{.method = "TRACE", .url = nowhere});
  ASSERT_FALSE(trace);
  EXPECT_EQ(trace.error().code, Errc::invalid_input);
  EXPECT_NE(trace.error().message.find("unsupported method 'TRACE'"), std::string::npos);
  auto lower = send(client, Call{.method = "get", .url = nowhere});
  ASSERT_FALSE(lower);
  EXPECT_EQ(lower.error().code, Errc::invalid_input);
  auto get = send(client, Call{.method = "GET", .url = nowhere, .body = "x"});
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().message, "a GET request has no body");
}

TEST_F(HttpClientSendTest, RedirectIsTheAnswerUnlessAsked) {
  TestServer server([](const SeenRequest&) { return redirect(302, "/elsewhere"); });
  Client client(io_.get_executor());
  auto result = send(client, Call{.url = server.url(), .target = "/api", .body = "x"});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 302);
  EXPECT_EQ(result->location, "/elsewhere");
  EXPECT_EQ(server.requests(), 1u);
}

TEST_F(HttpClientSendTest, FollowsRedirectsUpToTheBound) {
  std::vector<SeenRequest> seen;
  TestServer server([&](const SeenRequest& request) {
    seen.push_back(request);
    if (request.target == "/a/start") return redirect(303, "next?q=1");  // relative
    if (request.target == "/a/next?q=1") return redirect(307, "/b/kept");
    if (request.target == "/b/kept") return redirect(301, "/loop");
    if (request.target == "/loop") return redirect(301, "/loop");
    return respond(404, "");
  });
  Client client(io_.get_executor());
  auto result = send(client, Call{.url = server.url("/a"),
                                  .target = "/start",
                                  .body = "payload",
                                  .headers = {{"Content-Type", "text/plain"}},
                                  .limit = 5s,
                                  .redirects_max = 5});
  ASSERT_TRUE(result) << result.error().message;
  // 5 hops followed, then the 6th 3xx is the answer.
  EXPECT_EQ(result->status, 301);
  EXPECT_EQ(result->location, "/loop");
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, "payload");
  EXPECT_EQ(seen[1].method, "GET");  // 303: GET without the body or its type
  EXPECT_EQ(seen[1].target, "/a/next?q=1");
  EXPECT_EQ(seen[1].body, "");
  EXPECT_EQ(seen[1].headers.count("content-type"), 0u);
  EXPECT_EQ(seen[2].method, "GET");  // 307 keeps the method it was given
  EXPECT_EQ(seen[2].target, "/b/kept");
}

TEST_F(HttpClientSendTest, TemporaryRedirectKeepsMethodAndBody) {
  std::vector<SeenRequest> seen;
  TestServer server([&](const SeenRequest& request) {
    seen.push_back(request);
    if (request.target == "/old") return redirect(308, "/new");
    return respond(201, "created");
  });
  Client client(io_.get_executor());
  auto result = send(client, Call{.method = "PUT",
                                  .url = server.url(),
                                  .target = "/old",
                                  .body = "doc",
                                  .redirects_max = 1});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 201);
  EXPECT_FALSE(result->location);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].target, "/new");
  EXPECT_EQ(seen[1].body, "doc");
}

TEST_F(HttpClientSendTest, CredentialsStayWithTheirOrigin) {
  TestServer other([](const SeenRequest&) { return respond(200, "there"); });
  TestServer first([&](const SeenRequest&) {
    return redirect(302, "http://127.0.0.1:" + std::to_string(other.port()) + "/x");
  });
  Client client(io_.get_executor());
  auto result = send(client, Call{.method = "GET",
                                  .url = first.url(),
                                  .headers = {{"Authorization", "Bearer secret"}, {"X-Id", "7"}},
                                  .redirects_max = 1});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, "there");
  const auto seen = other.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->target, "/x");
  EXPECT_EQ(seen->headers.count("authorization"), 0u);
  EXPECT_EQ(seen->headers.at("x-id"), "7");
  EXPECT_EQ(first.last_request()->headers.at("authorization"), "Bearer secret");
}

TEST_F(HttpClientSendTest, AHopTheCallerRefusesIsTheAnswer) {
  TestServer server([](const SeenRequest& request) {
    return request.target == "/a" ? redirect(302, "/b") : redirect(302, "http://evil.example/");
  });
  Client client(io_.get_executor());
  std::vector<std::string> asked;
  auto result = send(client, Call{.method = "GET",
                                  .url = server.url(),
                                  .target = "/a",
                                  .redirects_max = 5,
                                  .may_follow = [&](const Url& url, const std::string& target) {
                                    asked.push_back(url.host + target);
                                    return url.host == "127.0.0.1";
                                  }});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 302);
  EXPECT_EQ(result->location, "http://evil.example/");
  EXPECT_EQ(asked, (std::vector<std::string>{"127.0.0.1/b", "evil.example/"}));
  EXPECT_EQ(server.requests(), 2u);
}

TEST_F(HttpClientSendTest, RedirectHopsShareTheCallsLimit) {
  TestServer server([](const SeenRequest& request) {
    test::Reply reply = redirect(302, request.target == "/a" ? "/b" : "/a");
    reply.delay = 100ms;
    return reply;
  });
  Client client(io_.get_executor());
  auto result = send(client, Call{.method = "GET",
                                  .url = server.url(),
                                  .target = "/a",
                                  .limit = 350ms,
                                  .redirects_max = 100});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "call exceeded limit of 350 ms");
  EXPECT_LE(server.requests(), 5u);
}

TEST_F(HttpClientSendTest, UnusableLocationFailsTheCall) {
  TestServer server([](const SeenRequest&) { return redirect(301, "ftp://files.example/x"); });
  Client client(io_.get_executor());
  auto result = send(client, Call{.method = "GET", .url = server.url(), .redirects_max = 1});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::invalid_input);
  EXPECT_NE(result.error().message.find("redirect to an invalid URL"), std::string::npos)
      << result.error().message;
}

}  // namespace
}  // namespace api_broker::http
