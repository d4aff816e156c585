#include "dashboard_routes.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "error.hpp"

namespace api_broker::service {
namespace {

const DashboardAsset* find_asset(std::string_view path) {
  for (const auto& asset : dashboard_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

// Served with every dashboard file: the page runs only its own script and style sheet, and
// talks only to its own origin.
void add_page_headers(Response& response) {
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                "frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
}

Response not_found(const std::string& path) {
  return error_response(404, code::not_found, "no such file: " + path);
}

}  // namespace

Response asset_response(const DashboardAsset& asset, std::string_view if_none_match) {
  Response response;
  // Revalidate every time: the ETag changes with the binary, and a 304 costs nothing.
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("ETag", std::string(asset.etag));
  add_page_headers(response);
  response.content_type = std::string(asset.content_type);
  if (if_none_match.find(asset.etag) != std::string_view::npos) {
    response.status = 304;
    return response;
  }
  response.body = std::string(asset.body);
  return response;
}

std::string stats_json(const view::Counts& counts, events::EventId last_event,
                       const std::deque<SeriesPoint>& series) {
  nlohmann::json out;
  out["counts"] = {{"waiting", counts.waiting},
                   {"in_flight", counts.in_flight},
                   {"backing_off", counts.backing_off},
                   {"succeeded", counts.succeeded},
                   {"failed", counts.failed}};
  out["last_event_id"] = events::to_int(last_event);
  auto submitted = nlohmann::json::array(), succeeded = nlohmann::json::array(),
       failed = nlohmann::json::array(), mean = nlohmann::json::array(),
       max = nlohmann::json::array();
  for (const SeriesPoint& point : series) {
    submitted.push_back(point.submitted);
    succeeded.push_back(point.succeeded);
    failed.push_back(point.failed);
    const std::uint64_t finished = point.succeeded + point.failed;
    mean.push_back(finished == 0 ? 0.0 : point.latency_sum / static_cast<double>(finished));
    max.push_back(point.latency_max);
  }
  out["series"] = {{"start", series.empty() ? 0 : series.front().second},
                   {"step", 1},
                   {"submitted", std::move(submitted)},
                   {"succeeded", std::move(succeeded)},
                   {"failed", std::move(failed)},
                   {"latency_mean", std::move(mean)},
                   {"latency_max", std::move(max)}};
  return out.dump();
}

void add_dashboard_routes(Router& router, DashboardSources sources) {
  const auto serve_asset = [](std::string_view path) {
    return [path](Request& request, const Respond& respond) {
      const std::string name = path.empty() ? "/" + request.params["*"] : std::string(path);
      const DashboardAsset* asset = find_asset(name);
      respond(asset ? asset_response(*asset, request.header("if-none-match")) : not_found(name));
    };
  };
  router.add("GET", "/", Needs::nothing, serve_asset("/index.html"));
  router.add("GET", "/assets/*", Needs::nothing, serve_asset(""));

  auto shared = std::make_shared<DashboardSources>(std::move(sources));
  router.add("GET", "/metrics", Needs::read, [shared](Request&, const Respond& respond) {
    Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.headers.emplace_back("Cache-Control", "no-store");
    response.body = shared->metrics.scrape(shared->now());
    respond(std::move(response));
  });
  router.add("GET", "/v1/stats", Needs::read, [shared](Request&, const Respond& respond) {
    const TimePoint now = shared->now();
    Response response = json_response(
        200,
        stats_json(shared->counts(), shared->metrics.last_observed(), shared->metrics.series(now)));
    response.headers.emplace_back("Cache-Control", "no-store");
    respond(std::move(response));
  });
}

}  // namespace api_broker::service
