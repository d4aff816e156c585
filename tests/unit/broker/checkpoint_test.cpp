// The processor's checkpoint survives a round trip; a damaged one is an error, not a guess. A
// view that starts mid-log starts with the policy in force there.

#include "api_broker/broker/checkpoint.hpp"

#include <gtest/gtest.h>

#include "api_broker/broker/resume_point.hpp"
#include "api_broker/store/memory_store.hpp"

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

TEST(Checkpoint, RoundTripsTargetsAndReadsOldCheckpointsWithoutThem) {
  auto targets = *std::make_shared<const Targets>()->with(
      {.name = "orders", .url = "http://p.test/v1", .retry_on = "409"});
  targets = *targets->with({.name = "gone", .removed = true});
  auto decoded = decode_checkpoint(encode_checkpoint(Checkpoint{events::EventId{9}, {}, targets}));
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_TRUE(decoded->targets);
  EXPECT_EQ(decoded->targets->all().size(), 2u);
  EXPECT_EQ(decoded->targets->find("orders")->event, targets->find("orders")->event);
  EXPECT_TRUE(decoded->targets->find("gone")->event.removed);
  auto old = decode_checkpoint(encode_checkpoint(Checkpoint{events::EventId{9}, {}}));
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_TRUE(old->targets && old->targets->empty());
  EXPECT_FALSE(decode_checkpoint(R"({"after":3,"policy":{},"targets":[{"name":"bad name"}]})"));
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

namespace api_broker::broker {
namespace {

using namespace std::chrono_literals;

// Given a log with configuration events around `start_after`, when a view starts there, then
// it follows the policy in force there, not the default (issue 15 #7: watch-requests
// --start-after reported a request failed after 4 attempts while the processor, retries 5,
// went on).
class ResumePoint : public ::testing::Test {
 protected:
  std::uint64_t add(events::Event event) {
    auto id = store_.append(events::NewEvent{.event = std::move(event)});
    EXPECT_TRUE(id) << id.error().message;
    return events::to_int(*id);
  }
  store::MemoryStore store_;
};

TEST_F(ResumePoint, StartAfterFoldsTheConfigurationsUpToIt) {
  add(events::Configuration{.retries = 5, .timeout = 2});
  add(events::Request{"a"});
  const std::uint64_t mid = add(events::Configuration{.retries = -1, .timeout = 7});
  add(events::Configuration{.retries = 1, .timeout = 1});  // after it: not in force there
  auto resumed = load_resume_point(store_, "processor", events::EventId{mid});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->after, events::EventId{mid});
  EXPECT_EQ(resumed->policy.retries, 5u);
  EXPECT_EQ(resumed->policy.attempt_timeout, 7s);
}

TEST_F(ResumePoint, StartAfterBuildsOnASavedCheckpointBeforeIt) {
  add(events::Configuration{.retries = 1});  // folded into the checkpoint, not read again
  const std::uint64_t saved = add(events::Request{"a"});
  core::Policy checkpointed;
  checkpointed.retries = 9;
  ASSERT_TRUE(store_.save_checkpoint(
      "processor", encode_checkpoint(Checkpoint{events::EventId{saved}, checkpointed})));
  const std::uint64_t mid = add(events::Configuration{.retries = -1, .timeout = 3});
  auto resumed = load_resume_point(store_, "processor", events::EventId{mid});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->policy.retries, 9u);
  EXPECT_EQ(resumed->policy.attempt_timeout, 3s);
}

TEST_F(ResumePoint, StartAfterBeforeTheCheckpointOrOverAnUnreadableOneReadsFromTheStart) {
  add(events::Configuration{.retries = 4});
  const std::uint64_t request = add(events::Request{"a"});
  ASSERT_TRUE(store_.save_checkpoint("processor", "not a checkpoint"));
  auto resumed = load_resume_point(store_, "processor", events::EventId{request});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->policy.retries, 4u);
  core::Policy later;
  later.retries = 0;
  ASSERT_TRUE(store_.save_checkpoint("processor",
                                     encode_checkpoint(Checkpoint{events::EventId{99}, later})));
  resumed = load_resume_point(store_, "processor", events::EventId{request});
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->policy.retries, 4u);
}

TEST_F(ResumePoint, WithoutStartAfterTheCheckpointIsUsedAsSaved) {
  core::Policy policy;
  policy.retries = 6;
  ASSERT_TRUE(store_.save_checkpoint("processor",
                                     encode_checkpoint(Checkpoint{events::EventId{3}, policy})));
  auto resumed = load_resume_point(store_, "processor", std::nullopt);
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->after, events::EventId{3});
  EXPECT_EQ(resumed->policy.retries, 6u);
}

}  // namespace
}  // namespace api_broker::broker
