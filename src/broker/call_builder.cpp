#include "api_broker/broker/call_builder.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The target's headers, each replaced by the request's of the same name, then the request's
// other headers.
std::vector<events::HeaderField> merge(const std::vector<events::HeaderField>& target,
                                       const std::vector<events::HeaderField>& request) {
  std::vector<events::HeaderField> merged;
  for (const events::HeaderField& header : target) {
    const bool overridden = std::any_of(request.begin(), request.end(), [&](const auto& r) {
      return same_name(r.name, header.name);
    });
    if (!overridden) merged.push_back(header);
  }
  merged.insert(merged.end(), request.begin(), request.end());
  return merged;
}

CallPlan refused(std::string reason) {
  CallPlan plan;
  plan.refused = std::move(reason);
  return plan;
}

}  // namespace

bool is_plain(const events::Request& request) {
  return request.method.empty() && request.url.empty() && request.target.empty() &&
         request.path.empty() && request.headers.empty() && request.content_type.empty();
}

std::shared_ptr<const CallPlan> plain_call(const CallRules& rules) {
  auto plan = std::make_shared<CallPlan>();
  plan->endpoint = rules.api;
  plan->path = "/api";
  plan->content_type = rules.content_type_default;
  return plan;
}

CallPlan plan_call(const events::Request& given, const Targets& targets, const CallRules& rules) {
  // The log is input: a request appended by other means is checked as insert checks it.
  auto checked = check_request(given);
  if (!checked) return refused(checked.error().message);
  const events::Request& request = *checked;
  CallPlan plan;
  plan.method = request.method.empty() ? "POST" : request.method;
  if (!request.target.empty()) {
    auto target = find_target(targets, request.target);
    if (!target) return refused(target.error().message);
    const TargetDefinition& definition = **target;
    plan.endpoint = definition.endpoint;
    plan.path = request.path;
    plan.headers = merge(definition.event.headers, request.headers);
    plan.redirects_max = definition.event.redirects_max;
    plan.target = definition.event.name;
    plan.retry_on = definition.retry_on;
  } else if (!request.url.empty()) {
    auto location = parse_location(request.url);
    if (!location) return refused(location.error().message);
    std::vector<UrlPrefix> allowed = rules.allowed;
    allowed.push_back(rules.api);
    if (!allows(allowed, *location)) {
      return refused(
          fmt::format("{} is not allowed: no --allow-url prefix of the processor "
                      "covers it",
                      events::printable(request.url, limits::quoted_input_chars_max)));
    }
    plan.endpoint = std::move(location->endpoint);
    plan.path = std::move(location->target);
    plan.headers = request.headers;
  } else {
    plan.endpoint = rules.api;
    plan.path = "/api";
    plan.headers = request.headers;
  }
  if (plan.method != "GET" && plan.method != "HEAD") {
    plan.content_type =
        request.content_type.empty() ? rules.content_type_default : request.content_type;
  }
  return plan;
}

std::string describe_destination(const events::Request& request) {
  const std::string method = request.method.empty() ? "POST" : request.method;
  if (!request.target.empty()) {
    return fmt::format("{} target {}{}", method, request.target, request.path);
  }
  if (!request.url.empty()) return fmt::format("{} {}", method, request.url);
  return fmt::format("{} <api-url>/api", method);
}

std::string redirect_failure(int status, std::string_view location) {
  std::string_view phrase;
  switch (status) {
    case 300:
      phrase = " Multiple Choices";
      break;
    case 301:
      phrase = " Moved Permanently";
      break;
    case 302:
      phrase = " Found";
      break;
    case 303:
      phrase = " See Other";
      break;
    case 307:
      phrase = " Temporary Redirect";
      break;
    case 308:
      phrase = " Permanent Redirect";
      break;
    default:
      break;
  }
  if (location.empty()) return fmt::format("{}{}: redirected, without a Location", status, phrase);
  return fmt::format("{}{}: redirected to {}", status, phrase,
                     events::printable(location, limits::quoted_input_chars_max));
}

}  // namespace api_broker::broker
