#pragma once
// What POST /v1/requests takes, parsed and checked as `insert` checks a request: a JSON object
// with `body` (the text to send) and the request fields of the store (method, url or target
// and path, headers as [name, value] pairs, content_type), each at most once, nothing else.
// The Idempotency-Key header becomes the request's external UUID: a name-based (version 5)
// UUID of the key, so any string of up to limits::idempotency_key_bytes_max bytes serves.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/broker/destination.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/result.hpp"

namespace api_broker::service {

// The request of one JSON object (already parsed as JSON text `json`). Errc::invalid_input
// with a one-line message; `json_error` is set when the text is not JSON at all.
struct ParseError {
  bool json_error = false;
  Error error;
};
// Parses one request object. On failure, returns false and sets `error`.
std::optional<events::Request> parse_request_json(std::string_view json,
                                                  const std::vector<broker::UrlPrefix>& allowed,
                                                  ParseError& error);

// A batch: {"requests":[{...},{...}]} with at most limits::service_batch_requests_max; each
// item may carry "idempotency_key" beside the request's fields. On failure, `index` says which
// item (or -1 for the whole).
struct BatchItem {
  events::Request request;
  std::optional<std::string> idempotency_key;
};
std::optional<std::vector<BatchItem>> parse_batch_json(
    std::string_view json, const std::vector<broker::UrlPrefix>& allowed, ParseError& error,
    long& index);

// The external UUID of an Idempotency-Key: Errc::invalid_input for an empty key, one longer
// than the bound, or one with control characters.
Result<events::Uuid> idempotency_uuid(std::string_view key);

}  // namespace api_broker::service
