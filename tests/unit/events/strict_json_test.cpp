// parse_strict_json: the one parser of JSON given as input (`insert`, the HTTP service).

#include "api_broker/events/strict_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::events {
namespace {

// `levels` arrays, one inside the other, in an object's field: {"x":[[...]]}.
std::string nested_in_object(std::size_t levels) {
  return R"({"x":)" + std::string(levels, '[') + std::string(levels, ']') + "}";
}

TEST(StrictJson, PlainJsonParses) {
  StrictJsonError error;
  const auto parsed = parse_strict_json(R"({"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]})", error);
  ASSERT_TRUE(parsed);
  EXPECT_EQ((*parsed)["c"][1]["a"], 4);
}

TEST(StrictJson, AKeyTwiceInOneObjectIsRefusedNamingIt) {
  StrictJsonError error;
  EXPECT_FALSE(parse_strict_json(R"({"a":{"k":1,"k":2}})", error));
  EXPECT_EQ(error.refusal, JsonRefusal::duplicate_key);
  EXPECT_EQ(error.message, "has the key 'k' twice");
}

TEST(StrictJson, TheSameKeyInSiblingObjectsIsNoDuplicate) {
  StrictJsonError error;
  EXPECT_TRUE(parse_strict_json(R"([{"k":1},{"k":2},{"k":{"k":3}}])", error));
}

TEST(StrictJson, NestingUpToTheBoundParsesAndOneLevelMoreIsRefused) {
  StrictJsonError error;
  // The object is one level, its arrays the others.
  EXPECT_TRUE(parse_strict_json(nested_in_object(limits::json_depth_max), error));
  EXPECT_FALSE(parse_strict_json(nested_in_object(limits::json_depth_max + 1), error));
  EXPECT_EQ(error.refusal, JsonRefusal::too_deep);
  EXPECT_EQ(error.message, "nests deeper than 32 levels");
}

TEST(StrictJson, VeryDeepNestingIsRefusedWithoutCrashing) {
  StrictJsonError error;
  EXPECT_FALSE(parse_strict_json(nested_in_object(200000), error));
  EXPECT_EQ(error.refusal, JsonRefusal::too_deep);
}

TEST(StrictJson, TextThatIsNotJsonIsRefused) {
  StrictJsonError error;
  EXPECT_FALSE(parse_strict_json("{not json", error));
  EXPECT_EQ(error.refusal, JsonRefusal::not_json);
  EXPECT_EQ(error.message, "is not valid JSON");
}

// The CLI's `insert` decodes through it: deep nesting is a one-line error there too.
TEST(StrictJson, AnInputPayloadNestedTooDeeplyIsRefused) {
  auto decoded = decode_input_payload("api-timeout", nested_in_object(1000));
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, Errc::invalid_input);
  EXPECT_EQ(decoded.error().message, "api-timeout payload nests deeper than 32 levels");
}

}  // namespace
}  // namespace api_broker::events
