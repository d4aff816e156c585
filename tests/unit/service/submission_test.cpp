#include <gtest/gtest.h>

#include "api_broker/events/uuid.hpp"
#include "submission.hpp"

namespace api_broker::service {
namespace {

std::optional<events::Request> parse(std::string_view json, ParseError& error,
                                     const std::vector<broker::UrlPrefix>& allowed = {}) {
  return parse_request_json(json, allowed, error);
}

TEST(ParseRequestJson, TakesTheBodyAndTheRequestFields) {
  ParseError error;
  auto request = parse(R"({"body":"hello","method":"put","target":"orders","path":"/o/1",)"
                       R"("headers":[["X-Trace","abc"]],"content_type":"text/plain"})",
                       error);
  ASSERT_TRUE(request) << error.error.message;
  EXPECT_EQ(request->request, "hello");
  EXPECT_EQ(request->method, "PUT");
  EXPECT_EQ(request->target, "orders");
  EXPECT_EQ(request->path, "/o/1");
  ASSERT_EQ(request->headers.size(), 1U);
  EXPECT_EQ(request->headers[0].name, "X-Trace");
  EXPECT_EQ(request->content_type, "text/plain");
}

TEST(ParseRequestJson, APlainBodyIsStoredAsAPlainRequest) {
  ParseError error;
  auto request = parse(R"({"body":"ping"})", error);
  ASSERT_TRUE(request);
  EXPECT_EQ(*request, events::Request{"ping"});
}

TEST(ParseRequestJson, RefusesMalformedJsonUnknownFieldsAndBadValues) {
  ParseError error;
  EXPECT_FALSE(parse(R"({"body":)", error));
  EXPECT_TRUE(error.json_error);
  for (const char* bad :
       {R"({"body":"x","bogus":1})", R"({"body":"x","request":"y"})", R"({"method":"GET"})",
        R"({"body":7})", R"({"body":"x","body":"y"})", R"(["body"])",
        R"({"body":"x","method":"BREW"})", R"({"body":"x","url":"ftp://a/b"})",
        R"({"body":"x","url":"http://a.test/x","target":"t"})",
        R"({"body":"x","headers":{"A":"b"}})", R"({"body":"x","path":"/p"})"}) {
    error = {};
    EXPECT_FALSE(parse(bad, error)) << bad;
    EXPECT_FALSE(error.json_error) << bad;
    EXPECT_EQ(error.error.message.find('\n'), std::string::npos) << bad;
  }
}

TEST(ParseRequestJson, AUrlMustBeUnderAnAllowedPrefix) {
  auto prefix = broker::parse_allow_url("http://a.test/v1");
  ASSERT_TRUE(prefix);
  ParseError error;
  EXPECT_TRUE(parse(R"({"body":"x","url":"http://a.test/v1/orders"})", error, {*prefix}));
  EXPECT_FALSE(parse(R"({"body":"x","url":"http://b.test/v1/orders"})", error, {*prefix}));
  EXPECT_NE(error.error.message.find("not allowed"), std::string::npos);
}

TEST(ParseBatchJson, TakesRequestsWithTheirOwnKeys) {
  ParseError error;
  long index = 0;
  auto batch = parse_batch_json(
      R"({"requests":[{"body":"a","idempotency_key":"k1"},{"body":"b"}]})", {}, error, index);
  ASSERT_TRUE(batch) << error.error.message;
  ASSERT_EQ(batch->size(), 2U);
  EXPECT_EQ(batch->at(0).idempotency_key, "k1");
  EXPECT_FALSE(batch->at(1).idempotency_key);
  EXPECT_FALSE(parse_batch_json(R"({"requests":[{"body":"a"},{"bogus":1}]})", {}, error, index));
  EXPECT_EQ(index, 1);
  EXPECT_FALSE(parse_batch_json(R"({"requests":[]})", {}, error, index));
  EXPECT_FALSE(parse_batch_json(R"({"requests":[],"more":1})", {}, error, index));
}

TEST(IdempotencyUuid, IsAStableVersion5UuidOfAnyKey) {
  auto first = idempotency_uuid("order-42");
  auto again = idempotency_uuid("order-42");
  auto other = idempotency_uuid("order-43");
  ASSERT_TRUE(first && again && other);
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *other);
  EXPECT_EQ(events::to_string(*first)[14], '5');
  EXPECT_TRUE(events::check_external_uuid(*first));
  EXPECT_FALSE(idempotency_uuid(""));
  EXPECT_FALSE(idempotency_uuid(std::string(257, 'k')));
  EXPECT_FALSE(idempotency_uuid("a\nb"));
}

}  // namespace
}  // namespace api_broker::service
