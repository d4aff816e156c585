// Metrics: given events of the log (and the processor's counters), then the figures scraped.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "metrics.hpp"

namespace api_broker::service::test {
namespace {

using namespace std::chrono_literals;
using events::EventId;

const TimePoint t0 = TimePoint{} + std::chrono::hours(24 * 365 * 56);

// Builds a log: each event gets the next id.
class Log {
 public:
  EventId request(TimePoint at, std::string target = {}) {
    return add(at, events::Request{.request = "ping", .target = std::move(target)}, {});
  }
  EventId add(TimePoint at, events::Event event, EventId cause) {
    const EventId id{++last_};
    metrics.observe(events::Envelope{
        .id = id, .created = at, .causation_id = cause, .event = std::move(event)});
    return id;
  }
  Metrics metrics;

 private:
  std::uint64_t last_ = 0;
};

// The value of the sample `series` (name and labels as written, e.g. `x_total{outcome="a"}`).
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

TEST(MetricsFold, NothingObservedShowsZeros) {
  Metrics metrics;
  const std::string text = metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_requests_submitted_total"), 0);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"failed\"}"), 0);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 0);
  EXPECT_EQ(sample(text, "api_broker_oldest_unfinished_request_age_seconds"), 0);
}

TEST(MetricsFold, SucceededRequestCountsItsAttemptAndLatency) {
  Log log;
  const EventId r = log.request(t0);
  log.add(t0 + 10ms, events::ApiRequest{.attempt = 0}, r);
  log.add(t0 + 30ms, events::ApiResponse{.attempt = 0, .response = "ok", .status = 201}, r);
  log.add(t0 + 40ms, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);

  const std::string text = log.metrics.scrape(t0 + 1s);
  EXPECT_EQ(sample(text, "api_broker_requests_submitted_total"), 1);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"succeeded\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_attempts_started_total{target=\"\"}"), 1);
  EXPECT_EQ(
      sample(text, "api_broker_attempts_total{class=\"2xx\",result=\"answered\",target=\"\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_request_duration_seconds_count{outcome=\"succeeded\"}"), 1);
  EXPECT_DOUBLE_EQ(*sample(text, "api_broker_request_duration_seconds_sum{outcome=\"succeeded\"}"),
                   0.04);
  EXPECT_EQ(sample(text,
                   "api_broker_request_duration_seconds_bucket{outcome=\"succeeded\",le="
                   "\"0.025\"}"),
            0);
  EXPECT_EQ(sample(text,
                   "api_broker_request_duration_seconds_bucket{outcome=\"succeeded\",le="
                   "\"0.05\"}"),
            1);
  EXPECT_DOUBLE_EQ(*sample(text, "api_broker_attempt_duration_seconds_sum{result=\"answered\"}"),
                   0.02);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 0);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"\"}"), 0);
  EXPECT_EQ(sample(text, "api_broker_log_last_event_id"), 4);
}

TEST(MetricsFold, FailuresAreCountedByClass) {
  Log log;
  const EventId r = log.request(t0, "shop");
  log.add(t0, events::ApiRequest{.attempt = 0}, r);
  log.add(t0 + 1s, events::ApiFailure{.attempt = 0, .failure = "503", .status = 503}, r);
  log.add(t0 + 2s, events::ApiRequest{.attempt = 1}, r);
  log.add(t0 + 3s, events::ApiFailure{.attempt = 1, .failure = "refused", .status = 0}, r);
  log.add(t0 + 4s, events::ApiRequest{.attempt = 2}, r);
  log.add(t0 + 6s, events::ApiTimeout{.attempt = 2}, r);
  log.add(t0 + 7s, events::ApiRequest{.attempt = 3}, r);
  log.add(t0 + 7s, events::ApiFailure{.attempt = 3, .failure = "cert", .permanent = true}, r);
  log.add(t0 + 7s, events::RequestFailed{.attempts = 4, .reason = "cert"}, r);

  const std::string text = log.metrics.scrape(t0 + 8s);
  const auto attempts = [&](const char* kind, const char* result) {
    return sample(text, std::string("api_broker_attempts_total{class=\"") + kind + "\",result=\"" +
                            result + "\",target=\"shop\"}");
  };
  EXPECT_EQ(attempts("5xx", "failed"), 1);
  EXPECT_EQ(attempts("connection", "failed"), 1);
  EXPECT_EQ(attempts("timeout", "timed_out"), 1);
  EXPECT_EQ(attempts("permanent", "failed"), 1);
  EXPECT_EQ(sample(text, "api_broker_attempts_started_total{target=\"shop\"}"), 4);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"failed\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_attempt_duration_seconds_count{result=\"timed_out\"}"), 1);
}

TEST(MetricsFold, LateAnswerAfterTimeoutCountsTheAttemptOnce) {
  Log log;
  const EventId r = log.request(t0);
  log.add(t0, events::ApiRequest{.attempt = 0}, r);
  log.add(t0 + 2s, events::ApiTimeout{.attempt = 0}, r);
  log.add(t0 + 3s, events::ApiResponse{.attempt = 0, .response = "late"}, r);

  const std::string text = log.metrics.scrape(t0 + 3s);
  EXPECT_EQ(sample(text,
                   "api_broker_attempts_total{class=\"timeout\",result=\"timed_out\","
                   "target=\"\"}"),
            1);
  EXPECT_EQ(sample(text,
                   "api_broker_attempts_total{class=\"2xx\",result=\"answered\",target="
                   "\"\"}"),
            std::nullopt);
}

TEST(MetricsFold, UnfinishedRequestsShowInFlightCallsAndTheOldestAge) {
  Log log;
  const EventId first = log.request(t0, "a");
  const EventId second = log.request(t0 + 5s, "b");
  log.add(t0 + 5s, events::ApiRequest{.attempt = 0}, first);
  log.add(t0 + 6s, events::ApiRequest{.attempt = 0}, second);

  std::string text = log.metrics.scrape(t0 + 10s);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 2);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"a\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"b\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_oldest_unfinished_request_age_seconds"), 10);

  log.add(t0 + 11s, events::RequestFailed{.attempts = 1, .reason = "cancelled: by the API"}, first);
  text = log.metrics.scrape(t0 + 20s);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"cancelled\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"a\"}"), 0);
  EXPECT_EQ(sample(text, "api_broker_oldest_unfinished_request_age_seconds"), 15);
}

TEST(MetricsFold, RetriedRequestIsUnfinishedAgainUnderItsTarget) {
  Log log;
  const EventId r = log.request(t0, "shop");
  log.add(t0, events::RequestFailed{.attempts = 0, .reason = "deadline exceeded"}, r);
  log.add(t0 + 60s, events::RequestRetried{.reason = "by hand"}, r);
  log.add(t0 + 61s, events::ApiRequest{.attempt = 0}, r);

  std::string text = log.metrics.scrape(t0 + 70s);
  EXPECT_EQ(sample(text, "api_broker_requests_retried_total"), 1);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 1);
  EXPECT_EQ(sample(text, "api_broker_oldest_unfinished_request_age_seconds"), 10);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"shop\"}"), 1);

  log.add(t0 + 62s, events::ApiResponse{.attempt = 0, .response = "ok"}, r);
  log.add(t0 + 62s, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);
  text = log.metrics.scrape(t0 + 70s);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"succeeded\"}"), 1);
  EXPECT_DOUBLE_EQ(*sample(text, "api_broker_request_duration_seconds_sum{outcome=\"succeeded\"}"),
                   2);
}

TEST(MetricsFold, OddEventsChangeNothing) {
  Log log;
  log.add(t0, events::RequestRetried{}, EventId{99});          // no such request
  log.add(t0, events::ApiResponse{.attempt = 0}, EventId{7});  // no such request
  log.add(t0, events::RequestSucceeded{}, EventId{1});         // not a request
  const std::string text = log.metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_requests_retried_total"), 0);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 0);
  EXPECT_EQ(sample(text, "api_broker_requests_finished_total{outcome=\"succeeded\"}"), 0);
}

TEST(MetricsFold, ReplayedEventsAreNotCountedTwice) {
  Log log;
  const EventId r = log.request(t0);
  log.metrics.observe(events::Envelope{.id = r, .created = t0, .event = events::Request{}});
  EXPECT_EQ(sample(log.metrics.scrape(t0), "api_broker_requests_submitted_total"), 1);
}

// The lines of a scrape, sorted: series of one family may come in another order.
std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(MetricsFold, ABatchFoldsAsItsEventsOneByOne) {
  const std::vector<events::Envelope> batch = {
      {.id = EventId{1}, .created = t0, .event = events::Request{.request = "a", .target = "t"}},
      {.id = EventId{2}, .created = t0, .event = events::Request{.request = "b"}},
      {.id = EventId{3},
       .created = t0 + 1s,
       .causation_id = EventId{1},
       .event = events::ApiRequest{.attempt = 0}},
      {.id = EventId{4},
       .created = t0 + 2s,
       .causation_id = EventId{2},
       .event = events::RequestFailed{.reason = "deadline exceeded"}}};
  Metrics whole;
  Metrics single;
  whole.observe(std::span(batch));
  whole.observe(std::span(batch).subspan(2));  // replayed: ignored
  for (const auto& envelope : batch) single.observe(envelope);
  EXPECT_EQ(sorted_lines(whole.scrape(t0 + 5s)), sorted_lines(single.scrape(t0 + 5s)));
  EXPECT_EQ(whole.last_observed(), EventId{4});
  const std::string text = whole.scrape(t0 + 5s);
  EXPECT_EQ(sample(text, "api_broker_requests_in_flight"), 1);
  EXPECT_EQ(sample(text, "api_broker_target_calls_in_flight{target=\"t\"}"), 1);
  EXPECT_EQ(sample(text, "api_broker_log_last_event_id"), 4);
}

TEST(MetricsFold, BreakerEventsSetTheTargetsState) {
  Log log;
  log.add(t0, events::BreakerOpened{.target = "shop", .reason = "5 failures"}, {});
  std::string text = log.metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_target_breaker_state{target=\"shop\"}"), 2);
  log.add(t0 + 5s, events::BreakerHalfOpened{.target = "shop"}, {});
  EXPECT_EQ(sample(log.metrics.scrape(t0), "api_broker_target_breaker_state{target=\"shop\"}"), 1);
  log.add(t0 + 6s, events::BreakerClosed{.target = "shop", .reason = "probe succeeded"}, {});
  text = log.metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_target_breaker_state{target=\"shop\"}"), 0);
  EXPECT_EQ(
      sample(text, "api_broker_target_breaker_transitions_total{target=\"shop\",to=\"open\"}"), 1);
}

TEST(MetricsFold, ProcessorStatsGiveItsLagAndGateFigures) {
  Log log;
  for (int i = 0; i < 10; ++i) log.request(t0);
  log.metrics.observe(broker::ProcessorStats{
      .active = 4, .parked = 2, .waiting_for_target = 3, .position = EventId{7}});
  const std::string text = log.metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_processor_lag_events"), 3);
  EXPECT_EQ(sample(text, "api_broker_processor_requests{state=\"active\"}"), 4);
  EXPECT_EQ(sample(text, "api_broker_processor_requests{state=\"parked\"}"), 2);
  EXPECT_EQ(sample(text, "api_broker_processor_attempts_waiting_for_target"), 3);
}

TEST(MetricsFold, CommitsAreHistogramsByWriter) {
  Metrics metrics;
  metrics.observe_commit(Writer::submissions, 3, 2ms);
  metrics.observe_commit(Writer::submissions, 5, 4ms);
  const std::string text = metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_store_commit_batch_events_count{writer=\"submissions\"}"), 2);
  EXPECT_EQ(sample(text, "api_broker_store_commit_batch_events_sum{writer=\"submissions\"}"), 8);
  EXPECT_DOUBLE_EQ(
      *sample(text, "api_broker_store_commit_duration_seconds_sum{writer=\"submissions\"}"), 0.006);
}

TEST(MetricsFold, TargetLabelsAreBounded) {
  Log log;
  for (std::size_t i = 0; i < limits::metrics_targets_max + 5; ++i) {
    const EventId r = log.request(t0, "t" + std::to_string(i));
    log.add(t0, events::ApiRequest{.attempt = 0}, r);
  }
  const std::string text = log.metrics.scrape(t0);
  EXPECT_EQ(sample(text, "api_broker_attempts_started_total{target=\"(other)\"}"), 5);
}

// True when the real promtool (Debian's package prometheus) accepts `text`.
bool promtool_accepts(const std::string& text) {
  std::FILE* check = ::popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
  if (check == nullptr) return false;
  std::fwrite(text.data(), 1, text.size(), check);
  return ::pclose(check) == 0;
}

// The exposition passes Prometheus's own check, before anything happened and after.
TEST(MetricsFold, ScrapePassesPromtoolCheckMetrics) {
  if (std::FILE* f = std::fopen("/usr/bin/promtool", "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "no /usr/bin/promtool (Debian package prometheus)";
  }
  Log log;
  const std::string fresh = log.metrics.scrape(t0);
  EXPECT_TRUE(promtool_accepts(fresh)) << fresh;

  const EventId r = log.request(t0, "shop");
  log.add(t0, events::ApiRequest{.attempt = 0}, r);
  log.add(t0 + 1s, events::ApiFailure{.attempt = 0, .failure = "503", .status = 503}, r);
  log.add(t0 + 2s, events::RequestFailed{.attempts = 1, .reason = "503"}, r);
  log.add(t0, events::BreakerOpened{.target = "shop"}, {});
  log.metrics.observe(broker::ProcessorStats{.position = EventId{3}});
  log.metrics.observe_commit(Writer::processor, 4, 1ms);
  const std::string busy = log.metrics.scrape(t0 + 3s);
  EXPECT_TRUE(promtool_accepts(busy)) << busy;
}

}  // namespace
}  // namespace api_broker::service::test
