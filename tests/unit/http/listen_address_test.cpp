#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>

#include "listen_address.hpp"

namespace api_broker::http::detail {
namespace {

TEST(ParseAddress, AcceptsIpv4Ipv6LocalhostAndEmptyHost) {
  auto v4 = parse_address("127.0.0.1:8080");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(to_text(*v4), "127.0.0.1:8080");
  EXPECT_EQ(to_url(*v4), "http://127.0.0.1:8080");

  auto v6 = parse_address("[::1]:0");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(to_text(*v6), "[::1]:0");

  auto any_v6 = parse_address("[::]:9");
  ASSERT_TRUE(any_v6) << any_v6.error().message;
  EXPECT_EQ(to_url(*any_v6), "http://[::1]:9");

  auto localhost = parse_address("localhost:65535");
  ASSERT_TRUE(localhost) << localhost.error().message;
  EXPECT_EQ(to_text(*localhost), "127.0.0.1:65535");

  auto any = parse_address(":8080");
  ASSERT_TRUE(any) << any.error().message;
  EXPECT_EQ(to_text(*any), "0.0.0.0:8080");
  EXPECT_EQ(to_url(*any), "http://127.0.0.1:8080");
}

TEST(ParseAddress, RejectsMalformedAddresses) {
  for (const char* address :
       {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
        "127.0.0.1: 80", "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80", "[127.0.0.1]:80",
        "example.com:80", "300.1.1.1:80"}) {
    auto parsed = parse_address(address);
    ASSERT_FALSE(parsed) << address;
    EXPECT_EQ(parsed.error().code, Errc::invalid_input) << address;
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace api_broker::http::detail
