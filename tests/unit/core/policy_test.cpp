// Policy: apply() of configuration events, to_configuration(), backoff_delay(), is_retryable().
#include "api_broker/core/policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "api_broker/limits.hpp"

namespace api_broker::core {
namespace {

using namespace std::chrono_literals;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

// A policy without jitter, so delays are exact.
Policy steady(Policy policy) {
  policy.backoff_jitter = 0;
  return policy;
}

events::ApiFailure failure_with_status(std::int32_t status) {
  events::ApiFailure failure;
  failure.status = status;
  return failure;
}

TEST(Policy, DefaultsAreTheDocumentedOnes) {
  const Policy policy;
  EXPECT_EQ(policy.retries, 3U);
  EXPECT_EQ(policy.attempt_timeout, 10s);
  EXPECT_EQ(policy.backoff_initial, 200ms);
  EXPECT_EQ(policy.backoff_multiplier, 2.0);
  EXPECT_EQ(policy.backoff_max, 30s);
  EXPECT_EQ(policy.backoff_jitter, 0.2);
  EXPECT_EQ(policy.deadline, 0s);
}

TEST(PolicyApply, AllFieldsMinusOneKeepThePolicy) {
  const Policy current{.retries = 7, .attempt_timeout = 3s, .deadline = 1min};
  const auto next = apply(current, events::Configuration{});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, current);
}

TEST(PolicyApply, OldEventWithoutNewFieldsChangesOnlyItsOwn) {
  // A prototype-era event: only retries and timeout; the codec decodes the rest as -1.
  const Policy current{.backoff_initial = 1s, .deadline = 1min};
  const auto next = apply(current, events::Configuration{.retries = 5, .timeout = 2.5});
  ASSERT_TRUE(next) << next.error().message;
  Policy expected = current;
  expected.retries = 5;
  expected.attempt_timeout = 2500ms;
  EXPECT_EQ(*next, expected);
}

TEST(PolicyApply, SetsEveryField) {
  const auto next = apply(Policy{}, events::Configuration{.retries = 0,
                                                          .timeout = 0,
                                                          .backoff_initial = 0.3,
                                                          .backoff_multiplier = 1.5,
                                                          .backoff_max = 60,
                                                          .backoff_jitter = 1,
                                                          .deadline = 3600});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, (Policy{.retries = 0,
                           .attempt_timeout = 0s,
                           .backoff_initial = 300ms,
                           .backoff_multiplier = 1.5,
                           .backoff_max = 60s,
                           .backoff_jitter = 1,
                           .deadline = 1h}));
}

TEST(PolicyApply, AcceptsTheBounds) {
  const auto next = apply(Policy{}, events::Configuration{.retries = limits::retries_max,
                                                          .timeout = 365.0 * 24 * 3600,
                                                          .backoff_initial = 0.000001,
                                                          .backoff_multiplier = 1,
                                                          .backoff_max = 0,
                                                          .backoff_jitter = 0,
                                                          .deadline = 365.0 * 24 * 3600});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->retries, limits::retries_max);
  EXPECT_EQ(next->attempt_timeout, policy_duration_max);
  EXPECT_EQ(next->backoff_initial, 1us);
}

TEST(PolicyApply, RejectsInvalidValuesNamingTheField) {
  struct Case {
    events::Configuration change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{.retries = -2}, "retries"},
      {{.retries = limits::retries_max + 1}, "retries"},
      {{.timeout = -0.5}, "timeout"},
      {{.timeout = nan}, "timeout"},
      {{.timeout = inf}, "timeout"},
      {{.timeout = 365.0 * 24 * 3600 + 1}, "timeout"},
      {{.timeout = 1e-9}, "timeout"},  // would round to 0, which means "none"
      {{.backoff_initial = -3}, "backoff_initial"},
      {{.backoff_initial = 1e12}, "backoff_initial"},
      {{.backoff_multiplier = 0.5}, "backoff_multiplier"},
      {{.backoff_multiplier = 0}, "backoff_multiplier"},
      {{.backoff_multiplier = nan}, "backoff_multiplier"},
      {{.backoff_multiplier = inf}, "backoff_multiplier"},
      {{.backoff_max = -inf}, "backoff_max"},
      {{.backoff_jitter = 1.01}, "backoff_jitter"},
      {{.backoff_jitter = -0.1}, "backoff_jitter"},
      {{.backoff_jitter = nan}, "backoff_jitter"},
      {{.deadline = -7}, "deadline"},
      {{.deadline = 1e300}, "deadline"},
  };
  for (const Case& c : cases) {
    const auto next = apply(Policy{}, c.change);
    ASSERT_FALSE(next) << c.field;
    EXPECT_EQ(next.error().code, Errc::invalid_input) << c.field;
    EXPECT_EQ(next.error().message.rfind(c.field + " must be", 0), 0U) << next.error().message;
    EXPECT_EQ(next.error().message.find('\n'), std::string::npos) << next.error().message;
  }
}

TEST(PolicyApply, MessageIsOneReadableLine) {
  const auto next = apply(Policy{}, events::Configuration{.backoff_jitter = 2});
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().message, "backoff_jitter must be -1 (keep) or from 0 to 1, got 2");
}

TEST(PolicyToConfiguration, IsAFullSnapshotThatAppliesBack) {
  const std::vector<Policy> policies = {
      Policy{},
      Policy{.retries = 0, .attempt_timeout = 0s},
      Policy{.retries = 1000,
             .attempt_timeout = 299'999us,
             .backoff_initial = 300ms,
             .backoff_multiplier = 1.1,
             .backoff_max = 123'456'789us,
             .backoff_jitter = 0.3,
             .deadline = policy_duration_max},
  };
  for (const Policy& policy : policies) {
    const events::Configuration snapshot = to_configuration(policy);
    EXPECT_NE(snapshot.retries, -1);
    EXPECT_NE(snapshot.timeout, -1);
    EXPECT_NE(snapshot.backoff_initial, -1);
    EXPECT_NE(snapshot.backoff_multiplier, -1);
    EXPECT_NE(snapshot.backoff_max, -1);
    EXPECT_NE(snapshot.backoff_jitter, -1);
    EXPECT_NE(snapshot.deadline, -1);
    const auto back = apply(Policy{.retries = 9, .deadline = 1s}, snapshot);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, policy);
  }
}

TEST(BackoffDelay, GrowsByTheMultiplierUpToTheCap) {
  const Policy policy =
      steady(Policy{.backoff_initial = 200ms, .backoff_multiplier = 2, .backoff_max = 1s});
  const events::EventId request{42};
  EXPECT_EQ(backoff_delay(policy, request, 1), 200ms);
  EXPECT_EQ(backoff_delay(policy, request, 2), 400ms);
  EXPECT_EQ(backoff_delay(policy, request, 3), 800ms);
  EXPECT_EQ(backoff_delay(policy, request, 4), 1s);
  EXPECT_EQ(backoff_delay(policy, request, 5), 1s);
  EXPECT_EQ(backoff_delay(policy, request, limits::retries_max), 1s);
}

TEST(BackoffDelay, FractionalMultiplier) {
  const Policy policy =
      steady(Policy{.backoff_initial = 200ms, .backoff_multiplier = 1.5, .backoff_max = 1s});
  const events::EventId request{1};
  EXPECT_EQ(backoff_delay(policy, request, 1), 200ms);
  EXPECT_EQ(backoff_delay(policy, request, 2), 300ms);
  EXPECT_EQ(backoff_delay(policy, request, 3), 450ms);
  EXPECT_EQ(backoff_delay(policy, request, 4), 675ms);
  EXPECT_EQ(backoff_delay(policy, request, 5), 1s);  // 1012.5ms, capped
}

TEST(BackoffDelay, ConstantWithMultiplierOneAndCappedInitial) {
  const events::EventId request{1};
  const Policy constant = steady(Policy{.backoff_initial = 2s, .backoff_multiplier = 1});
  EXPECT_EQ(backoff_delay(constant, request, 1), 2s);
  EXPECT_EQ(backoff_delay(constant, request, limits::retries_max), 2s);
  const Policy capped = steady(Policy{.backoff_initial = 5s, .backoff_max = 1s});
  EXPECT_EQ(backoff_delay(capped, request, 1), 1s);
  const Policy none = steady(Policy{.backoff_initial = 0s});
  EXPECT_EQ(backoff_delay(none, request, 3), 0s);
}

TEST(BackoffDelay, JitterStaysWithinBoundsAndIsDeterministic) {
  for (const double jitter : {0.2, 0.5, 1.0}) {
    const Policy policy{.backoff_initial = 1s, .backoff_max = 30s, .backoff_jitter = jitter};
    const Policy plain = steady(policy);
    std::set<Duration::rep> seen;
    for (std::uint64_t id = 1; id <= 200; ++id) {
      for (std::uint32_t attempt = 1; attempt <= 8; ++attempt) {
        const events::EventId request{id};
        const Duration base = backoff_delay(plain, request, attempt);
        const Duration delay = backoff_delay(policy, request, attempt);
        EXPECT_LE(delay, base);
        EXPECT_LE(static_cast<double>((base - delay).count()),
                  static_cast<double>(base.count()) * jitter);
        EXPECT_EQ(delay, backoff_delay(policy, request, attempt));  // reproducible
        if (attempt == 1) seen.insert(delay.count());
      }
    }
    EXPECT_GT(seen.size(), 150U) << "jitter should spread requests apart";
  }
}

TEST(BackoffDelay, JitterDependsOnRequestAndAttempt) {
  const Policy policy{.backoff_initial = 1s, .backoff_multiplier = 1, .backoff_jitter = 0.5};
  EXPECT_NE(backoff_delay(policy, events::EventId{1}, 1),
            backoff_delay(policy, events::EventId{2}, 1));
  EXPECT_NE(backoff_delay(policy, events::EventId{1}, 1),
            backoff_delay(policy, events::EventId{1}, 2));
}

// Verify recomputes delays of logs written by earlier builds: the hash must not drift.
TEST(BackoffDelay, JitterIsPinned) {
  const Policy policy{};  // 200ms initial, x2, 20% jitter
  EXPECT_EQ(backoff_delay(policy, events::EventId{42}, 1).count(), 161'983);
  EXPECT_EQ(backoff_delay(policy, events::EventId{7}, 3).count(), 732'709);
}

TEST(IsRetryable, NoAnswerServerErrorsTimeoutAndTooManyRequests) {
  for (const std::int32_t status : {0, 408, 429, 500, 502, 503, 504, 599}) {
    EXPECT_TRUE(is_retryable(failure_with_status(status))) << status;
  }
}

TEST(IsRetryable, OtherStatusesAreNot) {
  for (const std::int32_t status :
       {400, 401, 403, 404, 409, 422, 499, 600, 301, 304, 200, 100, -1}) {
    EXPECT_FALSE(is_retryable(failure_with_status(status))) << status;
  }
}

}  // namespace
}  // namespace api_broker::core
