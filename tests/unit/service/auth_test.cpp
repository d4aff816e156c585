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
