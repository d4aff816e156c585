#include <gtest/gtest.h>

#include "message.hpp"

namespace api_broker::service {
namespace {

TEST(ParseTarget, DecodesThePathAndTheQuery) {
  Request request;
  ASSERT_TRUE(
      parse_target("/v1/requests/by-key/a%2Fb?state=failed&target=my+api&x=%41&flag", request));
  EXPECT_EQ(request.path, "/v1/requests/by-key/a/b");
  EXPECT_EQ(request.query.at("state"), "failed");
  EXPECT_EQ(request.query.at("target"), "my api");
  EXPECT_EQ(request.query.at("x"), "A");
  EXPECT_EQ(request.query.at("flag"), "");
  EXPECT_EQ(request.parameter("state"), "failed");
  EXPECT_FALSE(request.parameter("limit"));
}

TEST(ParseTarget, RefusesBadEscapesAndTargetsThatAreNoPath) {
  Request request;
  EXPECT_FALSE(parse_target("/v1/%zz", request));
  EXPECT_FALSE(parse_target("/v1/%4", request));
  EXPECT_FALSE(parse_target("/v1?x=%", request));
  EXPECT_FALSE(parse_target("http://host/v1", request));
  EXPECT_FALSE(parse_target("", request));
}

}  // namespace
}  // namespace api_broker::service
