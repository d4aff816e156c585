// MetricsFollower: the metrics follow the log from its start, and each event appended after.

#include "metrics_follower.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api_broker/store/memory_store.hpp"

namespace api_broker::service::test {
namespace {

// Polls (bounded: 10 s) until the metrics have read up to `id`.
bool reaches(const Metrics& metrics, events::EventId id) {
  for (int i = 0; i < 1000; ++i) {
    if (metrics.last_observed() >= id) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(MetricsFollower, ReadsTheLogFromItsStartThenWhatIsAppended) {
  auto log = std::make_shared<store::MemoryLog>();
  store::MemoryStore writer(log);
  ASSERT_TRUE(writer.append({.event = events::Request{.request = "a"}}));
  Metrics metrics;
  MetricsFollower follower(
      [log]() -> Result<std::unique_ptr<store::EventStore>> {
        return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log));
      },
      metrics);
  ASSERT_TRUE(reaches(metrics, events::EventId{1}));
  auto second = writer.append({.event = events::Request{.request = "b"}});
  ASSERT_TRUE(second);
  ASSERT_TRUE(reaches(metrics, *second));
  follower.stop();
  EXPECT_NE(metrics.scrape(utc_now()).find("api_broker_requests_submitted_total 2"),
            std::string::npos);
}

}  // namespace
}  // namespace api_broker::service::test
