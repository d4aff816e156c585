#pragma once
// The routes that read the read model: GET /v1/requests/{id} (and by idempotency key), with
// ?wait= long polls; GET /v1/requests (listing by state and target); and the two that check
// it before they append: POST /v1/requests/{id}/cancel and /retry.

#include "api_broker/view/live_view.hpp"
#include "router.hpp"
#include "submitter.hpp"
#include "waiters.hpp"

namespace api_broker::service {

struct ViewContext {
  const view::LiveView* view = nullptr;
  Waiters* waiters = nullptr;
  Submitter* submitter = nullptr;
};

void add_view_routes(Router& router, const ViewContext& context);

// "30s", "500ms", "2m" or "30" (seconds), 0 to limits::service_wait_max (longer is cut to
// it). Errc::invalid_input otherwise.
Result<std::chrono::milliseconds> parse_wait(std::string_view text);

}  // namespace api_broker::service
