// measure_commits: each batch a store commits reaches the metrics, with its size.

#include "commit_timing.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "api_broker/store/memory_store.hpp"

namespace api_broker::service::test {
namespace {

std::string line_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(series + " ")) return line.substr(series.size() + 1);
  }
  return "";
}

TEST(CommitTiming, EachCommittedBatchIsObservedWithItsSize) {
  Metrics metrics;
  auto store = measure_commits(std::make_unique<store::MemoryStore>(), metrics, Writer::processor);
  const std::vector<events::NewEvent> batch(3, events::NewEvent{.event = events::Simple{"x"}});
  ASSERT_TRUE(store->append_batch(batch));
  ASSERT_TRUE(store->append(events::NewEvent{.event = events::Simple{"y"}}));

  const std::string text = metrics.scrape(utc_now());
  EXPECT_EQ(line_of(text, "api_broker_store_commit_batch_events_count{writer=\"processor\"}"), "2");
  EXPECT_EQ(line_of(text, "api_broker_store_commit_batch_events_sum{writer=\"processor\"}"), "4");
  EXPECT_EQ(line_of(text, "api_broker_store_commit_duration_seconds_count{writer=\"processor\"}"),
            "2");
}

TEST(CommitTiming, FailedCommitIsNotObserved) {
  Metrics metrics;
  auto store =
      measure_commits(std::make_unique<store::MemoryStore>(), metrics, Writer::submissions);
  const auto uuid = events::parse_uuid("6f1c7a52-0b7e-4d3e-9a51-2f1c7a520b7e");
  ASSERT_TRUE(uuid);
  const events::NewEvent event{.event = events::Simple{"x"}, .external_uuid = *uuid};
  ASSERT_TRUE(store->append(event));
  EXPECT_FALSE(store->append(event));  // a duplicate: nothing committed

  const std::string text = metrics.scrape(utc_now());
  EXPECT_EQ(line_of(text, "api_broker_store_commit_batch_events_count{writer=\"submissions\"}"),
            "1");
}

}  // namespace
}  // namespace api_broker::service::test
