#include "view_routes.hpp"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "api_broker/core/request_machine.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/events/uuid.hpp"
#include "api_broker/limits.hpp"
#include "error.hpp"
#include "submission.hpp"
#include "view_json.hpp"

namespace api_broker::service {
namespace {

using view::RequestView;

// A request just submitted may not be in the view yet: this long is waited for it.
constexpr std::chrono::seconds view_catch_up_wait{2};

bool finished(core::Phase phase) {
  return phase == core::Phase::succeeded || phase == core::Phase::failed;
}

Response not_found(events::EventId id) {
  return error_response(404, code::not_found,
                        fmt::format("no request with id {}", events::to_int(id)));
}

// The id named by the path ({id}), or by ?key= / {key} (an idempotency key); nullopt after
// answering an error. `view` looks a key up.
std::optional<events::EventId> request_id(const ViewContext& context, Request& request,
                                          const Respond& respond) {
  std::optional<std::string> key;
  if (auto found = request.params.find("key"); found != request.params.end()) {
    key = found->second;
  } else if (auto id = request.params.find("id"); id != request.params.end()) {
    auto parsed = events::parse_event_id(id->second);
    if (!parsed || events::to_int(*parsed) == 0) {
      respond(error_response(400, code::invalid_id,
                             fmt::format("'{}' is not a request id (a positive whole number)",
                                         events::printable(id->second))));
      return std::nullopt;
    }
    return *parsed;
  } else if (auto by_key = request.parameter("key")) {
    key = std::string(*by_key);
  }
  if (!key) {
    respond(error_response(400, code::invalid_id, "give a request id or ?key="));
    return std::nullopt;
  }
  auto uuid = idempotency_uuid(*key);
  if (!uuid) {
    respond(error_response(400, code::invalid_id, uuid.error().message));
    return std::nullopt;
  }
  std::optional<events::EventId> found;
  context.view->read([&](const RequestView& view) { found = view.find(*uuid); });
  if (!found) {
    respond(error_response(404, code::not_found, "no request with this idempotency key"));
    return std::nullopt;
  }
  return found;
}

// Runs `answer` with the view once it holds request `id` (at once, or after the view caught
// up with it, up to a short wait); 404 when it has no such request.
void with_request(const ViewContext& context, events::EventId id, const Respond& respond,
                  std::function<void(const RequestView&)> answer) {
  bool known = false;
  bool behind = false;
  context.view->read([&](const RequestView& view) {
    known = view.summary(id).has_value();
    behind = events::to_int(view.last_applied()) < events::to_int(id);
    if (known) answer(view);
  });
  if (known) return;
  if (!behind) {
    respond(not_found(id));
    return;
  }
  auto added = context.waiters->add(Waiter{.ready =
                                               [id](const RequestView& view) {
                                                 return events::to_int(view.last_applied()) >=
                                                        events::to_int(id);
                                               },
                                           .finish =
                                               [id, respond, answer](const RequestView& view) {
                                                 if (view.summary(id)) {
                                                   answer(view);
                                                 } else {
                                                   respond(not_found(id));
                                                 }
                                               },
                                           .deadline = utc_now() + view_catch_up_wait});
  if (!added) respond(error_response(added.error()));
}

void get_request(const ViewContext& context, Request& request, const Respond& respond) {
  std::optional<std::chrono::milliseconds> wait;
  if (auto text = request.parameter("wait")) {
    auto parsed = parse_wait(*text);
    if (!parsed) {
      respond(error_response(400, code::invalid_request, parsed.error().message));
      return;
    }
    wait = *parsed;
  }
  const auto id = request_id(context, request, respond);
  if (!id) return;
  auto send_detail = [id = *id, respond](const RequestView& view) {
    auto detail = view.detail(id);
    if (!detail) {
      respond(not_found(id));
      return;
    }
    respond(json_response(200, detail_json(*detail)));
  };
  if (!wait || wait->count() == 0) {
    with_request(context, *id, respond, send_detail);
    return;
  }
  const TimePoint deadline = utc_now() + std::chrono::duration_cast<Duration>(*wait);
  with_request(context, *id, respond,
               [context, id = *id, respond, send_detail, deadline](const RequestView& view) {
                 if (finished(view.summary(id)->phase)) {
                   send_detail(view);
                   return;
                 }
                 auto added =
                     context.waiters->add(Waiter{.ready =
                                                     [id](const RequestView& v) {
                                                       const auto summary = v.summary(id);
                                                       return summary && finished(summary->phase);
                                                     },
                                                 .finish = send_detail,
                                                 .deadline = deadline});
                 if (!added) respond(error_response(added.error()));
               });
}

void list_requests(const ViewContext& context, Request& request, const Respond& respond) {
  view::ListQuery query;
  for (const auto& [name, value] : request.query) {
    if (name != "state" && name != "target" && name != "after" && name != "limit" &&
        name != "order") {
      respond(error_response(
          400, code::invalid_request,
          fmt::format("unknown parameter '{}' (the parameters: state, target, after, limit, order)",
                      events::printable(name))));
      return;
    }
  }
  if (auto state = request.parameter("state")) {
    query.phase = parse_state(*state);
    if (!query.phase) {
      respond(error_response(400, code::invalid_request,
                             fmt::format("unknown state '{}' (the states: waiting, in_flight, "
                                         "backing_off, succeeded, failed)",
                                         events::printable(*state))));
      return;
    }
  }
  if (auto target = request.parameter("target")) query.target = std::string(*target);
  if (auto order = request.parameter("order")) {
    const auto parsed = parse_order(*order);
    if (!parsed) {
      respond(error_response(400, code::invalid_request,
                             fmt::format("unknown order '{}' (the orders: oldest, newest)",
                                         events::printable(*order))));
      return;
    }
    query.order = *parsed;
  }
  if (auto after = request.parameter("after")) {
    auto parsed = events::parse_event_id(*after);
    if (!parsed) {
      respond(error_response(400, code::invalid_id, parsed.error().message));
      return;
    }
    query.after = *parsed;
  }
  if (auto limit = request.parameter("limit")) {
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
    if (error != std::errc() || end != limit->data() + limit->size() || value == 0 ||
        value > limits::service_list_limit_max) {
      respond(error_response(400, code::invalid_request,
                             fmt::format("limit must be a whole number from 1 to {}",
                                         limits::service_list_limit_max)));
      return;
    }
    query.limit = value;
  }
  std::string body;
  context.view->read([&](const RequestView& view) { body = page_json(view.list(query)); });
  respond(json_response(200, std::move(body)));
}

// The optional body of cancel / retry: {} or {"reason": "..."}.
std::optional<std::string> reason_of(const Request& request, const Respond& respond) {
  if (request.body.empty()) return std::string();
  const auto parsed = nlohmann::json::parse(request.body, nullptr, false);
  if (parsed.is_discarded()) {
    respond(error_response(400, code::invalid_json, "the body is not valid JSON"));
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    respond(error_response(400, code::invalid_request, "the body must be a JSON object"));
    return std::nullopt;
  }
  std::string reason;
  for (const auto& [key, value] : parsed.items()) {
    if (key != "reason") {
      respond(error_response(
          400, code::invalid_request,
          fmt::format("unknown field '{}' (the fields: reason)", events::printable(key))));
      return std::nullopt;
    }
    if (!value.is_string() || value.get<std::string>().size() > limits::reason_bytes_max) {
      respond(error_response(
          400, code::invalid_request,
          fmt::format("reason must be a string of at most {} bytes", limits::reason_bytes_max)));
      return std::nullopt;
    }
    reason = value.get<std::string>();
  }
  return reason;
}

// cancel (`retry` false): the request must be unfinished; retry: it must have failed.
void cancel_or_retry(const ViewContext& context, Request& request, const Respond& respond,
                     bool retry) {
  const auto reason = reason_of(request, respond);
  if (!reason) return;
  const auto id = request_id(context, request, respond);
  if (!id) return;
  with_request(
      context, *id, respond,
      [context, id = *id, respond, retry, reason = *reason](const RequestView& view) {
        const core::Phase phase = view.summary(id)->phase;
        if (retry ? phase != core::Phase::failed : finished(phase)) {
          respond(error_response(
              409, code::state_conflict,
              fmt::format("request {} is {}: only {} request can be {}", events::to_int(id),
                          state_name(phase), retry ? "a failed" : "an unfinished",
                          retry ? "retried" : "cancelled")));
          return;
        }
        // The state machine's own checks, as `api-broker cancel/retry` makes them: a
        // second cancel, or a retry beyond the bounds of rounds, is refused too.
        const core::RequestState* state = view.state(id);
        const std::optional<std::string> refused =
            state == nullptr ? std::optional<std::string>("it has finished")
            : retry          ? core::cannot_retry(*state)
                             : core::cannot_cancel(*state);
        if (refused) {
          respond(error_response(409, code::state_conflict,
                                 fmt::format("request {} cannot be {}: {}", events::to_int(id),
                                             retry ? "retried" : "cancelled", *refused)));
          return;
        }
        events::NewEvent event{.causation_id = id};
        if (retry) {
          // Its UUID names the round, so two retries of one failure store one event.
          const events::RequestRetried retried = core::retried_event(*state, reason);
          event.external_uuid = events::retry_uuid(events::to_int(id), retried.round);
          event.event = retried;
        } else {
          event.event = events::RequestCancelled{.reason = reason};
        }
        auto submitted = context.submitter->submit(
            {std::move(event)}, [respond, id](std::vector<Appended> results) {
              const Appended& appended = results.at(0);
              if (appended.error) {
                respond(error_response(*appended.error));
                return;
              }
              Response response =
                  json_response(202, fmt::format("{{\"id\":{},\"event_id\":{}}}",
                                                 events::to_int(id), events::to_int(appended.id)));
              response.headers.emplace_back("Location",
                                            fmt::format("/v1/requests/{}", events::to_int(id)));
              respond(std::move(response));
            });
        if (!submitted) respond(error_response(submitted.error()));
      });
}

}  // namespace

Result<std::chrono::milliseconds> parse_wait(std::string_view text) {
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60000;
  if (error != std::errc() || end == text.data() || scale == 0 || !(number >= 0)) {
    return fail(
        Errc::invalid_input,
        fmt::format("wait '{}' is not a duration (e.g. 30s, 500ms, 1m)", events::printable(text)));
  }
  const double ms =
      std::min(number * scale,
               static_cast<double>(std::chrono::milliseconds(limits::service_wait_max).count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

void add_view_routes(Router& router, const ViewContext& context) {
  router.add("GET", "/v1/requests", Needs::read,
             [context](Request& request, const Respond& respond) {
               if (request.parameter("key")) {
                 get_request(context, request, respond);
               } else {
                 list_requests(context, request, respond);
               }
             });
  router.add("GET", "/v1/requests/by-key/{key}", Needs::read,
             [context](Request& request, const Respond& respond) {
               get_request(context, request, respond);
             });
  router.add("GET", "/v1/requests/{id}", Needs::read,
             [context](Request& request, const Respond& respond) {
               get_request(context, request, respond);
             });
  router.add("POST", "/v1/requests/{id}/cancel", Needs::write,
             [context](Request& request, const Respond& respond) {
               cancel_or_retry(context, request, respond, false);
             });
  router.add("POST", "/v1/requests/{id}/retry", Needs::write,
             [context](Request& request, const Respond& respond) {
               cancel_or_retry(context, request, respond, true);
             });
}

}  // namespace api_broker::service
