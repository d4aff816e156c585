// Where a request goes and what it sends: URLs, --allow-url prefixes, request and header
// checks, targets and the call built from them. Pure: no network.

#include "api_broker/broker/destination.hpp"

#include <gtest/gtest.h>

#include <string>

#include "api_broker/broker/call_builder.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {
namespace {

Location location(std::string_view text) {
  auto parsed = parse_location(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message;
  return parsed ? *parsed : Location{};
}

std::vector<UrlPrefix> prefixes(std::initializer_list<std::string_view> texts) {
  std::vector<UrlPrefix> out;
  for (const auto text : texts) out.push_back(*parse_allow_url(text));
  return out;
}

void expect_one_line_error(const Result<events::Request>& result, std::string_view needle) {
  ASSERT_FALSE(result.has_value()) << needle;
  EXPECT_EQ(result.error().code, Errc::invalid_input);
  EXPECT_EQ(result.error().message.find('\n'), std::string::npos);
  EXPECT_NE(result.error().message.find(needle), std::string::npos) << result.error().message;
}

TEST(Destination, ParsesHttpAndHttpsEndpoints) {
  auto http = parse_endpoint("http://a.test/v1/");
  ASSERT_TRUE(http.has_value());
  EXPECT_FALSE(http->tls());
  EXPECT_EQ(http->url.port, 80);
  EXPECT_EQ(http->url.base_path, "/v1");
  auto https = parse_endpoint("HTTPS://[::1]/v2");
  ASSERT_TRUE(https.has_value());
  EXPECT_TRUE(https->tls());
  EXPECT_EQ(https->url.port, 443);
  EXPECT_EQ(to_string(*https), "https://[::1]:443/v2");
  EXPECT_EQ(parse_endpoint("https://a.test:8443")->url.port, 8443);
  for (const auto bad : {"ftp://a", "a.test", "https://", "https://a.test/x?q", "http://u@a/"}) {
    EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
  }
}

TEST(Destination, LocationKeepsThePathAsWrittenAndTheQuery) {
  EXPECT_EQ(location("http://a.test").target, "/");
  EXPECT_EQ(location("http://a.test/x/").target, "/x/");
  EXPECT_EQ(location("http://a.test:81/x?y=1&z").target, "/x?y=1&z");
  EXPECT_EQ(location("http://a.test:81/x?y=1").endpoint.url.base_path, "");
  EXPECT_FALSE(parse_location("http://a.test/x?y=1#f").has_value());
  EXPECT_FALSE(parse_location("http://a.test/x?y= 1").has_value());
}

TEST(Destination, PrefixesMatchParsedUrlsAtSegmentBoundaries) {
  const auto allowed = prefixes({"http://a.test/v1", "https://b.test"});
  EXPECT_TRUE(allows(allowed, location("http://a.test/v1")));
  EXPECT_TRUE(allows(allowed, location("http://a.test/v1/orders?id=1")));
  EXPECT_TRUE(allows(allowed, location("http://A.TEST:80/v1/x")));
  EXPECT_TRUE(allows(allowed, location("https://b.test/anything")));
  EXPECT_FALSE(allows(allowed, location("http://a.test/v10")));
  EXPECT_FALSE(allows(allowed, location("http://a.test/v")));
  EXPECT_FALSE(allows(allowed, location("http://a.test.evil/v1")));
  EXPECT_FALSE(allows(allowed, location("http://a.test:8080/v1")));
  EXPECT_FALSE(allows(allowed, location("https://a.test/v1")));
  EXPECT_FALSE(allows(allowed, location("http://b.test/")));
  EXPECT_FALSE(allows({}, location("http://a.test/v1")));
}

TEST(Destination, MethodsAreNormalized) {
  EXPECT_EQ(*normalize_method("get"), "GET");
  EXPECT_EQ(*normalize_method("Delete"), "DELETE");
  EXPECT_EQ(*normalize_method(""), "POST");
  EXPECT_FALSE(normalize_method("OPTIONS").has_value());
  EXPECT_FALSE(normalize_method("GET ").has_value());
}

TEST(Destination, ARequestIsCheckedFieldByField) {
  auto put =
      check_request(events::Request{.request = "{}", .method = "put", .url = "http://a.test/x"});
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->method, "PUT");
  auto post = check_request(events::Request{.request = "x", .method = "post"});
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->method, "") << "a plain POST is stored as before";
  expect_one_line_error(check_request({.request = "", .method = "FETCH"}), "method 'FETCH'");
  expect_one_line_error(check_request({.request = "", .url = "http://a", .target = "t"}),
                        "not both");
  expect_one_line_error(check_request({.request = "", .url = "ftp://a"}), "http or https");
  expect_one_line_error(check_request({.request = "", .path = "/x"}), "path is only");
  expect_one_line_error(check_request({.request = "", .target = "t", .path = "x"}),
                        "must start with '/'");
  expect_one_line_error(check_request({.request = "", .target = "t", .path = "/a b"}), "space");
  expect_one_line_error(check_request({.request = "body", .method = "GET"}), "no body");
  expect_one_line_error(
      check_request({.request = "", .headers = {{.name = "Bad Name", .value = "v"}}}),
      "not a token");
  expect_one_line_error(
      check_request({.request = "", .headers = {{.name = "X-A", .value = "a\r\nEvil: 1"}}}),
      "CR, LF or NUL");
  for (const auto reserved : {"Host", "content-length", "Transfer-Encoding", "Connection",
                              "Idempotency-Key", "Api-Broker-Attempt"}) {
    expect_one_line_error(
        check_request({.request = "", .headers = {{.name = reserved, .value = "v"}}}),
        "set by the broker");
  }
  std::vector<events::HeaderField> many(limits::header_fields_max + 1, {.name = "X", .value = ""});
  expect_one_line_error(check_request({.request = "", .headers = many}), "header fields");
  expect_one_line_error(check_request({.request = "", .content_type = "a\nb"}), "CR, LF");
}

TEST(Destination, HeaderArgumentsAreNameColonValue) {
  auto header = parse_header_argument("Authorization:  Bearer env:X ");
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->name, "Authorization");
  EXPECT_EQ(header->value, "Bearer env:X");
  EXPECT_FALSE(parse_header_argument("no colon").has_value());
  EXPECT_FALSE(parse_header_argument(": v").has_value());
  EXPECT_TRUE(is_secret_reference("env:TOKEN"));
  EXPECT_TRUE(is_secret_reference("file:/run/secret"));
  EXPECT_FALSE(is_secret_reference("Bearer env:TOKEN"));
}

// --- targets --------------------------------------------------------------------------------

std::shared_ptr<const Targets> fold(std::vector<events::Target> events) {
  auto targets = std::make_shared<const Targets>();
  for (const auto& event : events) {
    auto next = targets->with(event);
    EXPECT_TRUE(next.has_value()) << next.error().message;
    if (next) targets = *next;
  }
  return targets;
}

TEST(Targets, ATargetEventIsCheckedFieldByField) {
  auto refused = [](events::Target target, std::string_view needle) {
    auto checked = check_target(target);
    ASSERT_FALSE(checked.has_value()) << needle;
    EXPECT_EQ(checked.error().message.find('\n'), std::string::npos);
    EXPECT_NE(checked.error().message.find(needle), std::string::npos) << checked.error().message;
  };
  const events::Target good{.name = "orders-v2.eu_1", .url = "https://p.test/v2"};
  ASSERT_TRUE(check_target(good).has_value());
  refused({.name = "", .url = "http://a"}, "target name");
  refused({.name = std::string(65, 'a'), .url = "http://a"}, "target name");
  refused({.name = "a/b", .url = "http://a"}, "target name");
  refused({.name = "a"}, "url is required");
  refused({.name = "a", .url = "http://a/x?q=1"}, "query");
  refused({.name = "a", .url = "http://a", .retry_on = "5xy"}, "retry_on");
  refused({.name = "a", .url = "http://a", .breaker_ratio = 1.5}, "breaker_ratio");
  refused({.name = "a", .url = "http://a", .rate = -1}, "rate");
  refused({.name = "a", .url = "http://a", .burst = std::numeric_limits<double>::quiet_NaN()},
          "burst");
  refused({.name = "a", .url = "http://a", .breaker_window = 1e300}, "breaker_window");
  refused({.name = "a", .url = "http://a", .on_timeout = "drop"}, "on_timeout");
  refused({.name = "a", .url = "http://a", .headers = {{.name = "Host", .value = "x"}}}, "Host");
  EXPECT_TRUE(check_target({.name = "gone", .removed = true}).has_value());
}

TEST(Targets, EachEventReplacesTheDefinitionOfItsName) {
  auto first = fold({{.name = "a", .url = "http://a.test/v1"}});
  auto second = first->with({.name = "a", .url = "http://a.test/v2", .retry_on = "409"});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->find("a")->event.url, "http://a.test/v1") << "a snapshot never changes";
  EXPECT_EQ((*second)->find("a")->event.url, "http://a.test/v2");
  EXPECT_EQ(core::to_string((*second)->find("a")->retry_on), "409");
  auto removed = (*second)->with({.name = "a", .removed = true});
  ASSERT_TRUE(removed.has_value());
  auto found = find_target(**removed, "a");
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().message, "target 'a' was removed");
  EXPECT_EQ(find_target(**removed, "b").error().message, "target 'b' is not defined");
  EXPECT_FALSE(first->with({.name = "bad name", .url = "http://a"}).has_value());
}

TEST(Targets, AtMostTargetsMaxNames) {
  auto targets = std::make_shared<const Targets>();
  for (std::size_t i = 0; i < limits::targets_max; ++i) {
    targets = *targets->with({.name = "t" + std::to_string(i), .url = "http://a"});
  }
  EXPECT_FALSE(targets->with({.name = "one-more", .url = "http://a"}).has_value());
  EXPECT_TRUE(targets->with({.name = "t0", .url = "http://b"}).has_value()) << "a change fits";
}

// --- the call built from a request ------------------------------------------------------------

const CallRules rules{.api = *parse_endpoint("http://api.test:8080"),
                      .allowed = prefixes({"http://allowed.test/v1"}),
                      .content_type_default = "text/plain"};

TEST(CallBuilder, APlainRequestIsPostedToTheApi) {
  const events::Request plain{.request = "hello"};
  EXPECT_TRUE(is_plain(plain));
  const CallPlan plan = plan_call(plain, Targets{}, rules);
  EXPECT_EQ(plan.method, "POST");
  EXPECT_EQ(plan.endpoint, rules.api);
  EXPECT_EQ(plan.path, "/api");
  EXPECT_EQ(plan.content_type, "text/plain");
  EXPECT_TRUE(plan.refused.empty());
  EXPECT_EQ(plain_call(rules)->path, "/api");
}

TEST(CallBuilder, ATargetGivesItsUrlHeadersAndRuleAndTheRequestsHeadersWin) {
  auto targets = fold({{.name = "orders",
                        .url = "http://p.test:81/v2",
                        .headers = {{.name = "Authorization", .value = "env:TOKEN"},
                                    {.name = "X-Team", .value = "a"}},
                        .redirects_max = 2,
                        .retry_on = "409"}});
  const CallPlan plan =
      plan_call({.request = "",
                 .method = "get",
                 .target = "orders",
                 .path = "/o?id=1",
                 .headers = {{.name = "x-team", .value = "b"}, {.name = "X-New", .value = "c"}}},
                *targets, rules);
  ASSERT_TRUE(plan.refused.empty()) << plan.refused;
  EXPECT_EQ(plan.method, "GET");
  EXPECT_EQ(http::to_string(plan.endpoint.url), "http://p.test:81/v2");
  EXPECT_EQ(plan.path, "/o?id=1");
  EXPECT_EQ(plan.headers,
            (std::vector<events::HeaderField>{{.name = "Authorization", .value = "env:TOKEN"},
                                              {.name = "x-team", .value = "b"},
                                              {.name = "X-New", .value = "c"}}));
  EXPECT_EQ(plan.content_type, "") << "GET sends no body";
  EXPECT_EQ(plan.redirects_max, 2u);
  EXPECT_EQ(plan.target, "orders");
  EXPECT_EQ(core::to_string(plan.retry_on), "409");
}

TEST(CallBuilder, UnknownRemovedAndNotAllowedDestinationsAreRefused) {
  auto targets =
      fold({{.name = "gone", .url = "http://g.test"}, {.name = "gone", .removed = true}});
  EXPECT_EQ(plan_call({.request = "", .target = "nope"}, *targets, rules).refused,
            "target 'nope' is not defined");
  EXPECT_EQ(plan_call({.request = "", .target = "gone"}, *targets, rules).refused,
            "target 'gone' was removed");
  EXPECT_NE(plan_call({.request = "", .url = "http://allowed.test/v10"}, *targets, rules)
                .refused.find("is not allowed"),
            std::string::npos);
  EXPECT_NE(plan_call({.request = "", .method = "BREW"}, *targets, rules).refused.find("BREW"),
            std::string::npos);
  const CallPlan allowed = plan_call({.request = "{}",
                                      .method = "PUT",
                                      .url = "http://allowed.test/v1/x?y=2",
                                      .content_type = "application/json"},
                                     *targets, rules);
  EXPECT_TRUE(allowed.refused.empty()) << allowed.refused;
  EXPECT_EQ(allowed.path, "/v1/x?y=2");
  EXPECT_EQ(allowed.content_type, "application/json");
  EXPECT_TRUE(plan_call({.request = "", .url = "http://api.test:8080/other"}, *targets, rules)
                  .refused.empty())
      << "the processor's own --api-url stays allowed";
}

TEST(CallBuilder, RedirectFailureNamesTheLocation) {
  EXPECT_EQ(redirect_failure(302, "https://elsewhere.test/x"),
            "302 Found: redirected to https://elsewhere.test/x");
  EXPECT_EQ(redirect_failure(399, ""), "399: redirected, without a Location");
}

}  // namespace
}  // namespace api_broker::broker
