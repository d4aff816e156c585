#pragma once
// POST /v1/requests and POST /v1/requests:batch: parse and check, then hand to the submitter
// (group commit) and answer once committed: 202 {"id":N} with a Location, 200 with the first
// id for a repeated Idempotency-Key with the same request, 409 for one with another.

#include <vector>

#include "api_broker/broker/destination.hpp"
#include "router.hpp"
#include "submitter.hpp"

namespace api_broker::service {

struct SubmitContext {
  Submitter* submitter = nullptr;
  std::vector<broker::UrlPrefix> allowed;
  // Called for each request accepted (202), on the submitter's thread; may be empty.
  std::function<void(std::size_t accepted)> on_accepted;
};

void add_submit_routes(Router& router, const SubmitContext& context);

}  // namespace api_broker::service
