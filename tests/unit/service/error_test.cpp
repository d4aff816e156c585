#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace api_broker::service {
namespace {

TEST(ErrorResponse, IsJsonWithACodeAndAOneLineMessage) {
  const Response response = error_response(400, code::invalid_json, "bad\nthing \"quoted\"");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.content_type, "application/json");
  const auto json = nlohmann::json::parse(response.body);
  EXPECT_EQ(json["error"]["code"], "invalid_json");
  EXPECT_EQ(json["error"]["message"], "bad thing \"quoted\"");
}

TEST(ErrorResponse, MapsTheLayersErrorsToStatuses) {
  EXPECT_EQ(error_response(Error{Errc::invalid_input, "x"}).status, 400);
  EXPECT_EQ(error_response(Error{Errc::not_found, "x"}).status, 404);
  EXPECT_EQ(error_response(Error{Errc::duplicate, "x"}).status, 409);
  EXPECT_EQ(error_response(Error{Errc::unavailable, "x"}).status, 503);
  EXPECT_EQ(error_response(Error{Errc::corrupt, "x"}).status, 500);
}

}  // namespace
}  // namespace api_broker::service
