#include "api_broker/http/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace api_broker::http {
namespace {

TEST(ParseUrl, AcceptsHostPortAndBasePath) {
  struct Case {
    const char* text;
    Url url;
  };
  const Case cases[] = {
      {"http://example.com", {"example.com", 80, ""}},
      {"http://example.com/", {"example.com", 80, ""}},
      {"HTTP://Example.com:8080/v1/", {"Example.com", 8080, "/v1"}},
      {"http://127.0.0.1:9000/api/v2", {"127.0.0.1", 9000, "/api/v2"}},
      {"http://[::1]:8080/v1", {"::1", 8080, "/v1"}},
      {"http://[::1]", {"::1", 80, ""}},
      {"http://api_host-1.internal:65535//x//", {"api_host-1.internal", 65535, "//x"}},
      {"http://h/a%20b/c:d@e", {"h", 80, "/a%20b/c:d@e"}},
      {"https://example.com", {"example.com", 443, "", Scheme::https}},
      {"HTTPS://example.com:8443/v2/", {"example.com", 8443, "/v2", Scheme::https}},
      {"https://[::1]/v1", {"::1", 443, "/v1", Scheme::https}},
      {"https://h:80", {"h", 80, "", Scheme::https}},
  };
  for (const Case& c : cases) {
    auto url = parse_url(c.text);
    ASSERT_TRUE(url) << c.text << ": " << url.error().message;
    EXPECT_EQ(*url, c.url) << c.text;
  }
}

TEST(ParseUrl, RejectsWithOneLineMessage) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "empty"},
      {"ftp://example.com", "must start with http:// or https://"},
      {"httpss://example.com", "must start with http:// or https://"},
      {"example.com:80", "must start with http:// or https://"},
      {"https://", "missing host"},
      {"https://host/v1?x=1", "query or fragment"},
      {"http://", "missing host"},
      {"http://:8080/v1", "missing host"},
      {"http://[]:80", "missing host"},
      {"http://host:0", "bad port"},
      {"http://host:65536", "bad port"},
      {"http://host:123456", "bad port"},
      {"http://host:", "bad port"},
      {"http://host:8o", "bad port"},
      {"http://::1:80/", "in brackets"},
      {"http://[::1", "without ']'"},
      {"http://[::1]x", "unexpected characters"},
      {"http://[zz]", "bad IPv6"},
      {"http://ho st", "space"},
      {" http://host", "space"},
      {"http://host/\n", "control"},
      {"http://h\xc3\xa9.com", "non-ASCII"},
      {"http://user:pw@host", "user information"},
      {"http://host/v1?x=1", "query or fragment"},
      {"http://host/#top", "query or fragment"},
      {"http://host/a%2", "'%'"},
      {"http://host/a%zz", "'%'"},
      {"http://host/a<b", "bad character '<'"},
      {"http://ho!st", "bad character '!'"},
  };
  for (const Case& c : cases) {
    auto url = parse_url(c.text);
    ASSERT_FALSE(url) << c.text;
    EXPECT_EQ(url.error().code, Errc::invalid_input) << c.text;
    EXPECT_NE(url.error().message.find(c.says), std::string::npos)
        << c.text << " -> " << url.error().message;
    EXPECT_EQ(url.error().message.find('\n'), std::string::npos) << url.error().message;
  }
}

TEST(ParseUrl, ToStringParsesBack) {
  for (const char* text : {"http://example.com/v1", "http://[::1]:8080", "http://h:81/a/b",
                           "https://example.com/v1", "https://[::1]:8443", "https://h:80/a"}) {
    auto url = parse_url(text);
    ASSERT_TRUE(url) << text;
    auto again = parse_url(to_string(*url));
    ASSERT_TRUE(again) << to_string(*url);
    EXPECT_EQ(*again, *url);
  }
}

TEST(HostHeader, OmitsDefaultPortAndBracketsIpv6) {
  EXPECT_EQ(host_header(Url{"example.com", 80, ""}), "example.com");
  EXPECT_EQ(host_header(Url{"example.com", 8080, ""}), "example.com:8080");
  EXPECT_EQ(host_header(Url{"::1", 8080, ""}), "[::1]:8080");
  EXPECT_EQ(host_header(Url{"example.com", 443, "", Scheme::https}), "example.com");
  EXPECT_EQ(host_header(Url{"example.com", 80, "", Scheme::https}), "example.com:80");
  EXPECT_EQ(host_header(Url{"example.com", 443, ""}), "example.com:443");
  EXPECT_EQ(host_header(Url{"::1", 443, "", Scheme::https}), "[::1]");
}

TEST(UrlToString, NamesTheScheme) {
  EXPECT_EQ(to_string(Url{"h", 80, "/a"}), "http://h:80/a");
  EXPECT_EQ(to_string(Url{"::1", 443, "", Scheme::https}), "https://[::1]:443");
}

// A password given in the URL is never repeated in the error, whatever else is wrong.
TEST(ParseUrl, ErrorsNeverShowAPassword) {
  for (const char* text :
       {"http://bob:s3cret@api.example/v1", "https://bob:s3cret@api.example",
        "http://bob:s3cret@api.example/a?b", "ftp://bob:s3cret@h", "bob:s3cret@h:80",
        "http://bob:s3cret@h:99999", "http://bob:s3 cret@h"}) {
    auto url = parse_url(text);
    ASSERT_FALSE(url) << text;
    EXPECT_EQ(url.error().message.find("s3cret"), std::string::npos) << url.error().message;
    EXPECT_EQ(url.error().message.find("s3 cret"), std::string::npos) << url.error().message;
  }
}

}  // namespace
}  // namespace api_broker::http
