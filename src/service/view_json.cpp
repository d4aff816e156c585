#include "view_json.hpp"

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/events/uuid.hpp"

namespace api_broker::service {
namespace {

std::string time_json(TimePoint time) { return events::json_string(events::format_time(time)); }

std::string optional_time_json(const std::optional<TimePoint>& time) {
  return time ? time_json(*time) : "null";
}

std::string_view result_name(core::AttemptResult result) {
  switch (result) {
    case core::AttemptResult::in_flight:
      return "in_flight";
    case core::AttemptResult::failed:
      return "failed";
    case core::AttemptResult::timed_out:
      return "timed_out";
    case core::AttemptResult::succeeded:
      return "succeeded";
  }
  return "in_flight";
}

std::string summary_fields(const view::RequestSummary& s) {
  return fmt::format(
      "\"id\":{},\"idempotency_uuid\":{},\"state\":\"{}\",\"finished\":{},\"method\":{},"
      "\"target\":{},\"destination\":{},\"requested_at\":{},\"finished_at\":{},\"attempts_"
      "started\":{},"
      "\"reason\":{}",
      events::to_int(s.id),
      s.external_uuid ? events::json_string(events::to_string(*s.external_uuid)) : "null",
      state_name(s.phase),
      s.phase == core::Phase::succeeded || s.phase == core::Phase::failed ? "true" : "false",
      events::json_string(s.method), events::json_string(s.target),
      events::json_string(s.destination), time_json(s.requested_at),
      optional_time_json(s.finished_at), s.attempts, events::json_string(s.reason));
}

}  // namespace

std::string_view state_name(core::Phase phase) {
  switch (phase) {
    case core::Phase::waiting:
      return "waiting";
    case core::Phase::in_flight:
      return "in_flight";
    case core::Phase::backing_off:
      return "backing_off";
    case core::Phase::succeeded:
      return "succeeded";
    case core::Phase::failed:
      return "failed";
  }
  return "waiting";
}

std::optional<core::Phase> parse_state(std::string_view text) {
  for (const auto phase : {core::Phase::waiting, core::Phase::in_flight, core::Phase::backing_off,
                           core::Phase::succeeded, core::Phase::failed}) {
    if (state_name(phase) == text) return phase;
  }
  return std::nullopt;
}

std::optional<view::ListOrder> parse_order(std::string_view text) {
  if (text == "oldest") return view::ListOrder::oldest_first;
  if (text == "newest") return view::ListOrder::newest_first;
  return std::nullopt;
}

std::string summary_json(const view::RequestSummary& summary) {
  return "{" + summary_fields(summary) + "}";
}

std::string detail_json(const view::RequestDetail& detail) {
  std::string attempts = "[";
  for (std::size_t i = 0; i < detail.attempts.size(); ++i) {
    const view::AttemptView& a = detail.attempts[i];
    if (i > 0) attempts += ',';
    attempts += fmt::format(
        "{{\"number\":{},\"started_at\":{},\"ended_at\":{},\"result\":\"{}\",\"status\":{},"
        "\"excerpt\":{}}}",
        a.number, time_json(a.started_at), optional_time_json(a.ended_at), result_name(a.result),
        a.status, events::json_string(a.excerpt));
  }
  attempts += ']';
  return fmt::format("{{{},\"body_excerpt\":{},\"next_attempt_at\":{},\"attempts\":{}}}",
                     summary_fields(detail.summary), events::json_string(detail.body_excerpt),
                     optional_time_json(detail.next_attempt_at), attempts);
}

std::string page_json(const view::ListPage& page) {
  std::string items = "[";
  for (std::size_t i = 0; i < page.items.size(); ++i) {
    if (i > 0) items += ',';
    items += summary_json(page.items[i]);
  }
  items += ']';
  const auto next = events::to_int(page.next_after);
  return fmt::format("{{\"items\":{},\"next_after\":{}}}", items,
                     next == 0 ? std::string("null") : std::to_string(next));
}

}  // namespace api_broker::service
