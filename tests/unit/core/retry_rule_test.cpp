// A target's retry rule: how "0,408,429,5xx" is read, and what it retries (given/when/then on
// the fake clock).

#include "api_broker/core/retry_rule.hpp"

#include <gtest/gtest.h>

#include <string>

#include "unit/core/request_machine_scenario.hpp"

namespace api_broker::core::test {
namespace {

RetryRule parsed(std::string_view text) {
  auto rule = parse_retry_rule(text);
  EXPECT_TRUE(rule.has_value()) << text << ": " << rule.error().message;
  return rule ? *rule : RetryRule{};
}

bool retried(const RetryRule& rule, std::int32_t status, bool permanent = false) {
  events::ApiFailure f = failure(0, status);
  f.permanent = permanent;
  return is_retryable(f, rule);
}

TEST(RetryRule, TheDefaultIsThePrototypesRule) {
  const RetryRule rule;
  EXPECT_EQ(to_string(rule), "0,408,429,5xx");
  EXPECT_EQ(parsed(""), rule);
  EXPECT_EQ(parsed("0,408,429,5xx"), rule);
  for (const std::int32_t status : {0, 408, 429, 500, 503, 599}) {
    EXPECT_TRUE(retried(rule, status)) << status;
    EXPECT_EQ(retried(rule, status), is_retryable(failure(0, status))) << status;
  }
  for (const std::int32_t status : {200, 302, 400, 404, 409, 600, -1}) {
    EXPECT_FALSE(retried(rule, status)) << status;
  }
}

TEST(RetryRule, ReadsCodesClassesAndNoAnswer) {
  const RetryRule rule = parsed(" 409 , 4XX,0 ");
  EXPECT_EQ(to_string(rule), "0,409,4xx");
  EXPECT_TRUE(retried(rule, 0));
  EXPECT_TRUE(retried(rule, 404));
  EXPECT_TRUE(retried(rule, 409));
  EXPECT_FALSE(retried(rule, 503));
  EXPECT_FALSE(retried(rule, 0, /*permanent=*/true));
}

TEST(RetryRule, NoneRetriesNothing) {
  const RetryRule rule = parsed("none");
  EXPECT_EQ(to_string(rule), "none");
  for (const std::int32_t status : {0, 408, 429, 503}) EXPECT_FALSE(retried(rule, status));
}

TEST(RetryRule, RefusesBadItemsWithOneLine) {
  for (const std::string_view text :
       {"abc", "5x", "6xx", "0xx", "99", "600", "1000", "503,503", "5xx,5XX", "0,0", "503,,504",
        ",", "-1", "+503", "0503", "none,503"}) {
    auto rule = parse_retry_rule(text);
    ASSERT_FALSE(rule.has_value()) << text;
    EXPECT_EQ(rule.error().code, Errc::invalid_input);
    EXPECT_EQ(rule.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(rule.error().message.rfind("retry_on: ", 0), 0u) << rule.error().message;
  }
}

TEST(RetryRule, AtMostSixteenCodes) {
  std::string text = "500";
  for (int code = 501; code < 516; ++code) text += "," + std::to_string(code);
  EXPECT_TRUE(parse_retry_rule(text).has_value());
  EXPECT_FALSE(parse_retry_rule(text + ",516").has_value());
}

// given a request to a target whose rule retries 409, when its first attempt answers 409,
// then the next attempt is scheduled after the backoff.
TEST(RetryRule, ATargetsRuleRetriesWhatTheDefaultDoesNot) {
  Scenario(steady(Policy{.retries = 2}), parsed("409"))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 409))})
      .when(t0 + 1s)
      .then({ScheduleAttempt{.attempt = 1, .at = t0 + 1s + 200ms}});
  Scenario(steady(Policy{.retries = 2}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 409))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed with HTTP 409, which is not retried"}});
}

// given a target that retries only 409, when the API answers 503, then the request fails.
TEST(RetryRule, ATargetsRuleStopsWhatTheDefaultRetries) {
  Scenario(steady(Policy{.retries = 2}), parsed("409"))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 503))})
      .when(t0 + 1s)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed with HTTP 503, which is not retried"}});
  Scenario(steady(Policy{.retries = 2, .attempt_timeout = 2s}), parsed("none"))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0 + 1s, failure(0, 0, "refused"))})
      .when(t0 + 1s)
      .then(
          {Finish{.outcome = Outcome::failed,
                  .attempts = 1,
                  .reason = "attempt 0 failed without an answer, which is not retried: refused"}});
}

// A permanent failure (a request that cannot be sent) ends the request whatever the rule.
TEST(RetryRule, PermanentFailureFailsAtOnce) {
  events::ApiFailure refused = failure(0, 0, "target 'orders' is not defined");
  refused.permanent = true;
  Scenario(steady(Policy{.retries = 3}))
      .given({requested, at(t0, ApiRequest{.attempt = 0}), at(t0, refused)})
      .when(t0)
      .then({Finish{.outcome = Outcome::failed,
                    .attempts = 1,
                    .reason = "attempt 0 failed permanently: target "
                              "'orders' is not defined"}});
}

}  // namespace
}  // namespace api_broker::core::test
