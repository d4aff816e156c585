#include "api_broker/events/uuid.hpp"

#include <gtest/gtest.h>

namespace api_broker::events {
namespace {

TEST(Uuid, ParsesCanonicalFormInEitherCase) {
  auto lower = parse_uuid("123e4567-e89b-12d3-a456-426614174000");
  auto upper = parse_uuid("{123E4567-E89B-12D3-A456-426614174000}");
  ASSERT_TRUE(lower);
  ASSERT_TRUE(upper);
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(to_string(*lower), "123e4567-e89b-12d3-a456-426614174000");
}

TEST(Uuid, RejectsMalformedText) {
  for (const char* bad :
       {"", "123", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g",
        "123e4567-e89b-12d3-a456_426614174000", "'; DROP TABLE events; --------------",
        "123e4567-e89b-12d3-a456-4266141740001"}) {
    auto uuid = parse_uuid(bad);
    ASSERT_FALSE(uuid) << bad;
    EXPECT_EQ(uuid.error().code, Errc::invalid_input);
  }
}

TEST(Uuid, TheNilUuidIsNoExternalUuid) {  // issue 15: the prototype read it as none
  auto nil = parse_external_uuid("00000000-0000-0000-0000-000000000000");
  ASSERT_FALSE(nil);
  EXPECT_EQ(nil.error().code, Errc::invalid_input);
  EXPECT_NE(nil.error().message.find("nil UUID"), std::string::npos) << nil.error().message;
  EXPECT_TRUE(parse_uuid("00000000-0000-0000-0000-000000000000"));  // as text, it is a UUID
  EXPECT_TRUE(parse_external_uuid("00000000-0000-4000-8000-000000000000"));
  EXPECT_FALSE(parse_external_uuid(""));
}

TEST(Uuid, RandomUuidsAreVersion4AndDistinct) {
  const Uuid a = random_uuid();
  const Uuid b = random_uuid();
  EXPECT_NE(a, b);
  EXPECT_EQ(to_string(a)[14], '4');
  EXPECT_EQ(*parse_uuid(to_string(a)), a);
}

// Issue 12: one request-retried per round of a request, whatever the appender.
TEST(Uuid, RetryUuidsAreVersion8AndDistinctPerRequestAndRound) {
  const Uuid a = retry_uuid(2, 1);
  EXPECT_EQ(a, retry_uuid(2, 1));
  EXPECT_NE(a, retry_uuid(2, 2));
  EXPECT_NE(a, retry_uuid(3, 1));
  EXPECT_NE(retry_uuid(0x0100000000000002ULL, 1), a);  // the id's top byte counts too
  EXPECT_EQ(to_string(a), "72740000-0001-8000-8000-000000000002");
  EXPECT_TRUE(check_external_uuid(a));
}

}  // namespace
}  // namespace api_broker::events
