#pragma once
// What every call of one request sends, built once from the request, the targets in force when
// it arrived and the processor's rules. Pure: secrets stay references (env:VAR, file:PATH);
// the runtime resolves them when it sends (secrets.hpp), so neither the log nor this value
// ever holds one.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api_broker/broker/destination.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/core/retry_rule.hpp"
#include "api_broker/events/events.hpp"

namespace api_broker::broker {

struct CallPlan {
  std::string method = "POST";
  Endpoint endpoint;                         // the base URL: its base path comes before `path`
  std::string path;                          // with its query: "/api", "/orders?id=1"
  std::vector<events::HeaderField> headers;  // the target's, then the request's (which win)
  std::string content_type;                  // "" = no Content-Type (no body: GET, HEAD)
  std::uint32_t redirects_max = 0;           // the target's; 0 = a 3xx fails the attempt
  std::string target;                        // the target's name; "" = none
  core::RetryRule retry_on{};                // the target's rule, else the default
  // Not "": the request cannot be sent (unknown or removed target, a URL no prefix allows);
  // each attempt fails at once, permanently, with this reason and no call.
  std::string refused;
};

// What the processor allows and adds: plain requests go to POST <api>/api.
struct CallRules {
  Endpoint api;
  std::vector<UrlPrefix> allowed;  // --allow-url; <api> itself is always allowed
  std::string content_type_default = "application/octet-stream";
};

// The plan of `request`. A request with neither url nor target goes to <api>/api.
CallPlan plan_call(const events::Request& request, const Targets& targets, const CallRules& rules);

// The plan of a plain request (only a body), shared by all of them.
std::shared_ptr<const CallPlan> plain_call(const CallRules& rules);

// Whether `request` is plain: only a body, sent as the prototype sent it.
bool is_plain(const events::Request& request);

// The destination as shown to people: "POST http://h:1/api", "GET target orders /x".
std::string describe_destination(const events::Request& request);

// The failure text of a 3xx that was not followed: "302 Found: redirected to <location>".
std::string redirect_failure(int status, std::string_view location);

}  // namespace api_broker::broker
