#include "submit_routes.hpp"

#include <fmt/format.h>

#include <memory>

#include "api_broker/events/codec.hpp"
#include "error.hpp"
#include "submission.hpp"

namespace api_broker::service {
namespace {

std::string location_of(events::EventId id) {
  return fmt::format("/v1/requests/{}", events::to_int(id));
}

// The answer for one submitted request, once its batch committed.
struct ItemAnswer {
  int status;
  std::string json;  // {"id":N} or the error object's inside
};

ItemAnswer answer_of(const Appended& appended, const events::Request& request) {
  if (appended.error) {
    const Response response = error_response(*appended.error);
    return {response.status, response.body};
  }
  const auto id = events::to_int(appended.id);
  if (!appended.existing) return {202, fmt::format("{{\"id\":{}}}", id)};
  const auto* stored = std::get_if<events::Request>(&*appended.existing);
  if (stored != nullptr && *stored == request) return {200, fmt::format("{{\"id\":{}}}", id)};
  return {409, error_body(
                   code::idempotency_conflict,
                   fmt::format("the idempotency key was used for another request (event {})", id))};
}

void submit_one(const SubmitContext& context, Request& request, const Respond& respond) {
  ParseError error;
  auto parsed = parse_request_json(request.body, context.allowed, error);
  if (!parsed) {
    respond(error_response(400, error.json_error ? code::invalid_json : code::invalid_request,
                           error.error.message));
    return;
  }
  events::NewEvent event{.event = *parsed};
  const std::string_view key = request.header("idempotency-key");
  if (request.headers.contains("idempotency-key")) {
    auto uuid = idempotency_uuid(key);
    if (!uuid) {
      respond(error_response(400, code::invalid_id, uuid.error().message));
      return;
    }
    event.external_uuid = *uuid;
  }
  auto on_accepted = context.on_accepted;
  auto submitted = context.submitter->submit(
      {std::move(event)},
      [respond, request_value = std::move(*parsed), on_accepted](std::vector<Appended> results) {
        const ItemAnswer answer = answer_of(results.at(0), request_value);
        Response response = json_response(answer.status, answer.json);
        if (answer.status == 202 || answer.status == 200) {
          response.headers.emplace_back("Location", location_of(results[0].id));
        }
        if (answer.status == 202 && on_accepted) on_accepted(1);
        respond(std::move(response));
      });
  if (!submitted) respond(error_response(submitted.error()));
}

void submit_batch(const SubmitContext& context, Request& request, const Respond& respond) {
  ParseError error;
  long index = -1;
  auto batch = parse_batch_json(request.body, context.allowed, error, index);
  if (!batch) {
    std::string message = error.error.message;
    if (index >= 0) message = fmt::format("requests[{}]: {}", index, message);
    respond(error_response(400, error.json_error ? code::invalid_json : code::invalid_request,
                           message));
    return;
  }
  std::vector<events::NewEvent> events;
  std::vector<events::Request> requests;
  events.reserve(batch->size());
  for (std::size_t i = 0; i < batch->size(); ++i) {
    BatchItem& item = (*batch)[i];
    events::NewEvent event{.event = item.request};
    if (item.idempotency_key) {
      auto uuid = idempotency_uuid(*item.idempotency_key);
      if (!uuid) {
        respond(error_response(400, code::invalid_id,
                               fmt::format("requests[{}]: {}", i, uuid.error().message)));
        return;
      }
      event.external_uuid = *uuid;
    }
    events.push_back(std::move(event));
    requests.push_back(std::move(item.request));
  }
  auto on_accepted = context.on_accepted;
  auto submitted = context.submitter->submit(
      std::move(events),
      [respond, requests = std::move(requests), on_accepted](std::vector<Appended> results) {
        std::string body = "{\"results\":[";
        std::size_t accepted = 0;
        bool store_failed = false;
        for (std::size_t i = 0; i < results.size(); ++i) {
          const ItemAnswer answer = answer_of(results[i], requests[i]);
          if (answer.status == 202) ++accepted;
          if (answer.status >= 500) store_failed = true;
          if (i > 0) body += ',';
          body += fmt::format("{{\"status\":{},", answer.status);
          // The item's own object, without its braces, after the status.
          body.append(answer.json, 1, answer.json.size() - 1);
        }
        body += "]}";
        if (accepted > 0 && on_accepted) on_accepted(accepted);
        respond(json_response(store_failed ? 503 : 202, std::move(body)));
      });
  if (!submitted) respond(error_response(submitted.error()));
}

}  // namespace

void add_submit_routes(Router& router, const SubmitContext& context) {
  router.add("POST", "/v1/requests", Needs::write,
             [context](Request& request, const Respond& respond) {
               submit_one(context, request, respond);
             });
  router.add("POST", "/v1/requests:batch", Needs::write,
             [context](Request& request, const Respond& respond) {
               submit_batch(context, request, respond);
             });
}

}  // namespace api_broker::service
