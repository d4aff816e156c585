#pragma once
// The routes of the dashboard and of the operators' figures, on the service's route table:
//   GET /             the dashboard's page              (no token: it holds no data)
//   GET /assets/NAME  its script and style sheet         (no token)
//   GET /metrics      Prometheus text format             (read token)
//   GET /v1/stats     counts and recent per-second figures for the dashboard's charts (read)
// docs/OPERATIONS.md describes them.

#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "api_broker/view/request_view.hpp"
#include "dashboard_assets.hpp"
#include "metrics.hpp"
#include "router.hpp"

namespace api_broker::service {

struct DashboardSources {
  Metrics& metrics;
  // The read model's counts by state, read under its lock.
  std::function<view::Counts()> counts;
  std::function<TimePoint()> now = utc_now;
};

// REQUIRES: `sources` outlives the router.
void add_dashboard_routes(Router& router, DashboardSources sources);

// The body of GET /v1/stats (pure, for tests).
std::string stats_json(const view::Counts& counts, events::EventId last_event,
                       const std::deque<SeriesPoint>& series);

// The answer for a dashboard file: 200 with its body, or 304 when `if_none_match` names its
// ETag.
Response asset_response(const DashboardAsset& asset, std::string_view if_none_match);

}  // namespace api_broker::service
