#pragma once
// The read model's values as the API's JSON (docs/API.md): a request's summary, its detail
// with every attempt, a page of a listing.

#include <string>

#include "api_broker/view/request_view.hpp"

namespace api_broker::service {

// "waiting", "in_flight", "backing_off", "succeeded", "failed".
std::string_view state_name(core::Phase phase);
std::optional<core::Phase> parse_state(std::string_view text);
// "oldest" (ids ascending, the default) or "newest" (descending), as ?order= takes it.
std::optional<view::ListOrder> parse_order(std::string_view text);

std::string summary_json(const view::RequestSummary& summary);
std::string detail_json(const view::RequestDetail& detail);
std::string page_json(const view::ListPage& page);

}  // namespace api_broker::service
