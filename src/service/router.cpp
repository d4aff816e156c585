#include "router.hpp"

#include <utility>

#include "api_broker/assert.hpp"
#include "error.hpp"

namespace api_broker::service {
namespace {

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::unordered_map<std::string, std::string>& params) {
  std::unordered_map<std::string, std::string> found;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& segment = pattern[i];
    if (segment == "*" && i + 1 == pattern.size()) {
      std::string rest;
      for (std::size_t j = i; j < path.size(); ++j) {
        if (j > i) rest += '/';
        rest += path[j];
      }
      found["*"] = std::move(rest);
      params = std::move(found);
      return true;
    }
    if (i >= path.size()) return false;
    if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}') {
      if (path[i].empty()) return false;
      found[segment.substr(1, segment.size() - 2)] = path[i];
    } else if (segment != path[i]) {
      return false;
    }
  }
  if (pattern.size() != path.size()) return false;
  params = std::move(found);
  return true;
}

bool allowed(Needs needs, Access access) {
  switch (needs) {
    case Needs::nothing:
      return true;
    case Needs::read:
      return access != Access::none;
    case Needs::write:
      return access == Access::full;
  }
  return false;
}

}  // namespace

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    segments.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

void Router::add(std::string method, std::string pattern, Needs needs, Handler handler) {
  API_BROKER_ASSERT(!pattern.empty() && pattern.front() == '/');
  routes_.push_back(Route{.method = std::move(method),
                          .segments = split_path(pattern),
                          .needs = needs,
                          .handler = std::move(handler)});
}

void Router::dispatch(Request& request, const Respond& respond) const {
  const std::vector<std::string> path = split_path(request.path);
  std::string allow;
  for (const Route& route : routes_) {
    std::unordered_map<std::string, std::string> params;
    if (!matches(route.segments, path, params)) continue;
    const bool same_method =
        route.method == request.method || (route.method == "GET" && request.method == "HEAD");
    if (!same_method) {
      if (!allow.empty()) allow += ", ";
      allow += route.method;
      continue;
    }
    if (!allowed(route.needs, request.access)) {
      if (request.access == Access::none) {
        Response response = error_response(401, code::unauthorized,
                                           "this needs an API token: Authorization: Bearer TOKEN");
        response.headers.emplace_back("WWW-Authenticate", "Bearer");
        respond(std::move(response));
      } else {
        respond(error_response(403, code::forbidden, "a read-only token may only read (GET)"));
      }
      return;
    }
    request.params = std::move(params);
    route.handler(request, respond);
    return;
  }
  if (!allow.empty()) {
    Response response = error_response(
        405, code::method_not_allowed,
        "method " + request.method + " is not allowed here (allowed: " + allow + ")");
    response.headers.emplace_back("Allow", allow);
    respond(std::move(response));
    return;
  }
  respond(error_response(404, code::not_found, "no such path: " + request.path));
}

}  // namespace api_broker::service
