#include <gtest/gtest.h>

#include "auth.hpp"

namespace api_broker::service {
namespace {

const std::string full = "full-token-0123456789";
const std::string reader = "read-token-0123456789";

TEST(Tokens, GivesTheAccessOfTheBearerToken) {
  const Tokens tokens({full}, {reader});
  EXPECT_EQ(tokens.access_of("Bearer " + full), Access::full);
  EXPECT_EQ(tokens.access_of("bearer " + reader), Access::read_only);
  EXPECT_EQ(tokens.access_of("Bearer " + full + "x"), Access::none);
  EXPECT_EQ(tokens.access_of("Bearer full-token"), Access::none);
  EXPECT_EQ(tokens.access_of(full), Access::none);
  EXPECT_EQ(tokens.access_of("Basic " + full), Access::none);
  EXPECT_EQ(tokens.access_of(""), Access::none);
  EXPECT_EQ(tokens.access_of("Bearer "), Access::none);
}

TEST(Tokens, AFullTokenAlsoListedReadOnlyKeepsFullAccess) {
  const Tokens tokens({full}, {full});
  EXPECT_EQ(tokens.access_of("Bearer " + full), Access::full);
}

TEST(CrossSiteWrites, AWriteMustBeJsonAndFromTheServicesOwnOrigin) {
  Request request;
  request.method = "GET";
  EXPECT_EQ(refuse_cross_site_write(request), "") << "reads are not writes";
  request.method = "POST";
  request.headers = {{"host", "127.0.0.1:8080"}};
  EXPECT_NE(refuse_cross_site_write(request), "") << "no content type";
  request.headers["content-type"] = "text/plain";
  EXPECT_NE(refuse_cross_site_write(request), "") << "what a page may send without a preflight";
  request.headers["content-type"] = "Application/JSON; charset=utf-8";
  EXPECT_EQ(refuse_cross_site_write(request), "");
  request.headers["origin"] = "http://127.0.0.1:8080";
  EXPECT_EQ(refuse_cross_site_write(request), "") << "the dashboard's own origin";
  request.headers["origin"] = "http://evil.example";
  EXPECT_NE(refuse_cross_site_write(request), "");
}

TEST(CheckToken, RefusesShortLongAndInvisibleTokens) {
  EXPECT_TRUE(check_token(full));
  EXPECT_FALSE(check_token("short"));
  EXPECT_FALSE(check_token(std::string(513, 'a')));
  EXPECT_FALSE(check_token("has a space in it 0123"));
  EXPECT_FALSE(check_token("tab\there-0123456789"));
}

TEST(ReadTokens, ReadsOneTokenALineSkippingCommentsAndBlankLines) {
  auto tokens = read_tokens("# ops\n\n  " + full + "  \r\n" + reader + "\n", "tokens.txt");
  ASSERT_TRUE(tokens) << tokens.error().message;
  EXPECT_EQ(*tokens, (std::vector<std::string>{full, reader}));
  auto bad = read_tokens(full + "\nshort\n", "tokens.txt");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tokens.txt line 2"), std::string::npos);
}

}  // namespace
}  // namespace api_broker::service
