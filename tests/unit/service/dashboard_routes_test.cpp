// The dashboard's routes: files without a token (with ETag revalidation), /metrics and
// /v1/stats with a read token.

#include "dashboard_routes.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>

namespace api_broker::service::test {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + std::chrono::seconds(1'800'000'000);

class DashboardRoutes : public ::testing::Test {
 protected:
  DashboardRoutes() {
    add_dashboard_routes(router_,
                         DashboardSources{
                             .metrics = metrics_,
                             .counts = [] { return view::Counts{.in_flight = 2, .failed = 1}; },
                             .now = [] { return t0; },
                         });
  }

  Response get(std::string path, Access access = Access::none, std::string if_none_match = {}) {
    Request request{.method = "GET", .target = path, .path = path};
    request.access = access;
    if (!if_none_match.empty()) request.headers["if-none-match"] = if_none_match;
    Response answer;
    router_.dispatch(request, [&](Response response) { answer = std::move(response); });
    return answer;
  }

  static std::string header(const Response& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "";
  }

  Metrics metrics_;
  Router router_;
};

TEST_F(DashboardRoutes, PageAndAssetsNeedNoToken) {
  const Response page = get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(page.body.starts_with("<!doctype html>"));
  EXPECT_EQ(header(page, "Cache-Control"), "no-cache");
  EXPECT_NE(header(page, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(get("/assets/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/assets/nothing.js").status, 404);
}

TEST_F(DashboardRoutes, UnchangedFileIsNotSentAgain) {
  const std::string etag = header(get("/assets/style.css"), "ETag");
  ASSERT_FALSE(etag.empty());
  const Response again = get("/assets/style.css", Access::none, etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST_F(DashboardRoutes, MetricsNeedAReadToken) {
  EXPECT_EQ(get("/metrics").status, 401);
  const Response metrics = get("/metrics", Access::read_only);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("api_broker_requests_submitted_total 0"), std::string::npos);
}

TEST_F(DashboardRoutes, StatsGiveCountsAndTheSeries) {
  metrics_.observe(events::Envelope{
      .id = events::EventId{1}, .created = t0 - 2s, .event = events::Request{.request = "x"}});
  metrics_.observe(events::Envelope{.id = events::EventId{2},
                                    .created = t0 - 1s,
                                    .causation_id = events::EventId{1},
                                    .event = events::RequestFailed{.reason = "503"}});
  EXPECT_EQ(get("/v1/stats").status, 401);
  const Response stats = get("/v1/stats", Access::read_only);
  ASSERT_EQ(stats.status, 200);
  const auto json = nlohmann::json::parse(stats.body);
  EXPECT_EQ(json["counts"]["in_flight"], 2);
  EXPECT_EQ(json["counts"]["failed"], 1);
  EXPECT_EQ(json["last_event_id"], 2);
  const auto& series = json["series"];
  ASSERT_EQ(series["submitted"].size(), 300U);
  EXPECT_EQ(series["start"], 1'800'000'000 - 299);
  EXPECT_EQ(series["submitted"][297], 1);
  EXPECT_EQ(series["failed"][298], 1);
  EXPECT_DOUBLE_EQ(series["latency_mean"][298].get<double>(), 1.0);
}

}  // namespace
}  // namespace api_broker::service::test
