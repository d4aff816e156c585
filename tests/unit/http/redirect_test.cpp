#include "redirect.hpp"

#include <gtest/gtest.h>

#include <string>

namespace api_broker::http::detail {
namespace {

TEST(ResolveLocation, EveryFormOfReference) {
  const Url from{"api.example", 8080, "/v1", Scheme::https};
  struct Case {
    const char* location;
    Url url;
    const char* target;
  };
  const Url origin{"api.example", 8080, "", Scheme::https};
  const Case cases[] = {
      {"http://other.example/p?q=1#f", {"other.example", 80, ""}, "/p?q=1"},
      {"https://other.example:9443", {"other.example", 9443, "", Scheme::https}, "/"},
      {"//cdn.example/x", {"cdn.example", 443, "", Scheme::https}, "/x"},
      {"/abs?x=y", origin, "/abs?x=y"},
      {"sibling", origin, "/v1/orders/sibling"},
      {"?page=2", origin, "/v1/orders/7?page=2"},
  };
  for (const Case& c : cases) {
    auto hop = resolve_location(from, "/orders/7?page=1", c.location);
    ASSERT_TRUE(hop) << c.location << ": " << hop.error().message;
    EXPECT_EQ(hop->url, c.url) << c.location;
    EXPECT_EQ(hop->target, c.target) << c.location;
  }
}

TEST(ResolveLocation, RefusesWhatCannotBeFollowed) {
  const Url from{"h", 80, ""};
  for (const char* location : {"", "ftp://h/x", "https://user:pw@h/", "/a b", "http:///x"}) {
    auto hop = resolve_location(from, "/", location);
    ASSERT_FALSE(hop) << location;
    EXPECT_EQ(hop.error().code, Errc::invalid_input);
    EXPECT_EQ(hop.error().message.find("pw"), std::string::npos);
  }
}

TEST(RedirectedMethod, SeeOtherAndPostBecomeGet) {
  EXPECT_EQ(redirected_method(303, "PUT"), "GET");
  EXPECT_EQ(redirected_method(303, "HEAD"), "HEAD");
  EXPECT_EQ(redirected_method(302, "POST"), "GET");
  EXPECT_EQ(redirected_method(301, "POST"), "GET");
  EXPECT_EQ(redirected_method(301, "DELETE"), "DELETE");
  EXPECT_EQ(redirected_method(307, "POST"), "POST");
  EXPECT_EQ(redirected_method(308, "PATCH"), "PATCH");
}

TEST(TakeHop, CredentialsAndBodyGoOnlyWhereTheyMay) {
  const Url origin{"a.example", 443, "/v1", Scheme::https};
  const Call call{.method = "POST",
                  .url = origin,
                  .target = "/x",
                  .body = "b",
                  .headers = {{"AUTHORIZATION", "t"}, {"Cookie", "c"}, {"Content-Type", "j"}}};
  Call kept = call;
  take_hop(kept, 307, Hop{{"a.example", 443, "", Scheme::https}, "/y"});
  EXPECT_EQ(kept.method, "POST");
  EXPECT_EQ(kept.body, "b");
  EXPECT_EQ(kept.headers.size(), 3u);
  EXPECT_EQ(kept.target, "/y");
  Call moved = call;
  take_hop(moved, 302, Hop{{"b.example", 443, "", Scheme::https}, "/z"});
  EXPECT_EQ(moved.method, "GET");
  EXPECT_EQ(moved.body, "");
  EXPECT_TRUE(moved.headers.empty());
  EXPECT_EQ(moved.url.host, "b.example");
}

}  // namespace
}  // namespace api_broker::http::detail
