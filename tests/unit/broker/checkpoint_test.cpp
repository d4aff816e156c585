// The processor's checkpoint survives a round trip; a damaged one is an error, not a guess.

#include "api_broker/broker/checkpoint.hpp"

#include <gtest/gtest.h>

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;

TEST(Checkpoint, RoundTripsPositionAndPolicy) {
  core::Policy policy;
  policy.retries = 7;
  policy.attempt_timeout = 1500ms;
  policy.backoff_initial = 300ms;
  policy.backoff_multiplier = 1.5;
  policy.backoff_max = 4s;
  policy.backoff_jitter = 0;
  policy.deadline = 60s;
  const Checkpoint checkpoint{events::EventId{41}, policy};
  auto decoded = decode_checkpoint(encode_checkpoint(checkpoint));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->after, events::EventId{41});
  EXPECT_EQ(decoded->policy, policy);
}

TEST(Checkpoint, DamagedTextIsCorrupt) {
  for (const char* bad : {"", "{", "[]", R"({"after":-1,"policy":{}})", R"({"policy":{}})",
                          R"({"after":3})", R"({"after":3,"policy":{"retries":-7}})"}) {
    auto decoded = decode_checkpoint(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code, Errc::corrupt);
  }
}

}  // namespace
}  // namespace api_broker::broker
