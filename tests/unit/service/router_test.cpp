#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "router.hpp"

namespace api_broker::service {
namespace {

// Dispatches a request and returns the answer given synchronously.
struct Given {
  Router router;
  std::string called;
  std::unordered_map<std::string, std::string> params;

  Given() {
    auto record = [this](std::string name) {
      return [this, name](Request& request, const Respond& respond) {
        called = name;
        params = request.params;
        respond(json_response(200, "{}"));
      };
    };
    router.add("GET", "/healthz", Needs::nothing, record("healthz"));
    router.add("POST", "/v1/requests", Needs::write, record("submit"));
    router.add("POST", "/v1/requests:batch", Needs::write, record("batch"));
    router.add("GET", "/v1/requests", Needs::read, record("list"));
    router.add("GET", "/v1/requests/{id}", Needs::read, record("get"));
    router.add("POST", "/v1/requests/{id}/cancel", Needs::write, record("cancel"));
    router.add("GET", "/assets/*", Needs::nothing, record("asset"));
  }

  Response when(std::string method, std::string path, Access access) {
    Request request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.access = access;
    std::optional<Response> answer;
    called.clear();
    router.dispatch(request, [&](Response response) { answer = std::move(response); });
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(Response{});
  }
};

TEST(Router, CallsTheRouteOfTheMethodAndPathWithItsParameters) {
  Given given;
  EXPECT_EQ(given.when("GET", "/v1/requests/42", Access::read_only).status, 200);
  EXPECT_EQ(given.called, "get");
  EXPECT_EQ(given.params.at("id"), "42");
  EXPECT_EQ(given.when("POST", "/v1/requests:batch", Access::full).status, 200);
  EXPECT_EQ(given.called, "batch");
  EXPECT_EQ(given.when("POST", "/v1/requests/7/cancel", Access::full).status, 200);
  EXPECT_EQ(given.called, "cancel");
  EXPECT_EQ(given.params.at("id"), "7");
  EXPECT_EQ(given.when("GET", "/assets/js/app.js", Access::none).status, 200);
  EXPECT_EQ(given.params.at("*"), "js/app.js");
  EXPECT_EQ(given.when("HEAD", "/healthz", Access::none).status, 200);
}

TEST(Router, AnswersNotFoundAndMethodNotAllowed) {
  Given given;
  const Response missing = given.when("GET", "/v2/nothing", Access::full);
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"not_found\""), std::string::npos);
  const Response wrong = given.when("DELETE", "/v1/requests/1", Access::full);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(given.called, "");
  EXPECT_EQ(given.when("GET", "/v1/requests//cancel", Access::full).status, 404);
}

TEST(Router, RefusesACallerWithoutEnoughAccess) {
  Given given;
  const Response anonymous = given.when("GET", "/v1/requests", Access::none);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.body.find("\"unauthorized\""), std::string::npos);
  const Response read_only = given.when("POST", "/v1/requests", Access::read_only);
  EXPECT_EQ(read_only.status, 403);
  EXPECT_NE(read_only.body.find("\"forbidden\""), std::string::npos);
  EXPECT_EQ(given.called, "");
  EXPECT_EQ(given.when("GET", "/healthz", Access::none).status, 200);
}

}  // namespace
}  // namespace api_broker::service
