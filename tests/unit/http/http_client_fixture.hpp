#pragma once
// The HTTP client tests' common steps: run the loop until handlers ran, script replies, and
// a fixture that makes one call and waits for it. No timing assertions: the loop runs until
// the expected handlers ran, with a generous bound only so that a bug fails instead of
// hanging.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/http/http_client.hpp"
#include "unit/http/test_server.hpp"

namespace api_broker::http::test {

using namespace std::chrono_literals;

// Runs `io` until `done()` holds; false if it still does not after a bound meant for bugs.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
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
inline void run_idle(boost::asio::io_context& io) {
  io.restart();
  io.run_for(60s);
}

inline Reply respond(unsigned status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

inline Reply close_without_answer() {
  Reply reply;
  reply.action = Reply::Action::close;
  return reply;
}

inline Reply never_answer() {
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

}  // namespace api_broker::http::test
