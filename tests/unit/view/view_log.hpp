#pragma once
// A log written by hand for the read model's tests: events at times after t0, ids in order.

#include <cstdint>
#include <optional>
#include <vector>

#include "api_broker/events/envelope.hpp"
#include "api_broker/view/request_view.hpp"

namespace api_broker::view::testing {

inline const TimePoint t0 = TimePoint(Duration(1'800'000'000'000'000));

// An external UUID told apart by its last byte.
inline events::Uuid uuid(std::uint8_t last) {
  events::Uuid u;
  u.bytes[0] = 0x42;
  u.bytes[15] = last;
  return u;
}

class ViewLog {
 public:
  // Appends an event at t0 + `at`, caused by `cause`; applies it to the view; returns its id.
  events::EventId add(Duration at, events::Event event, events::EventId cause = {},
                      std::optional<events::Uuid> uuid = std::nullopt) {
    const events::EventId id{next_++};
    view.apply(events::Envelope{.id = id,
                                .created = t0 + at,
                                .causation_id = cause,
                                .external_uuid = uuid,
                                .event = std::move(event)});
    return id;
  }
  // A request to `target` ("" = a plain one).
  events::EventId request(Duration at, std::string target = "",
                          std::optional<events::Uuid> uuid = std::nullopt) {
    std::string path = target.empty() ? "" : "/x";
    return add(
        at,
        events::Request{.request = "body", .target = std::move(target), .path = std::move(path)},
        {}, uuid);
  }
  // A request answered 200 at its first attempt, and its terminal event.
  events::EventId succeeded(Duration at, std::string target = "") {
    const events::EventId r = request(at, std::move(target));
    add(at, events::ApiRequest{.attempt = 0}, r);
    add(at, events::ApiResponse{.attempt = 0, .response = "ok", .status = 200}, r);
    add(at, events::RequestSucceeded{.attempts = 1, .attempt = 0}, r);
    return r;
  }
  // A request whose only attempt failed for good (404), and its terminal event.
  events::EventId failed(Duration at, std::string target = "") {
    const events::EventId r = request(at, std::move(target));
    add(at, events::ApiRequest{.attempt = 0}, r);
    add(at, events::ApiFailure{.attempt = 0, .failure = "HTTP 404", .status = 404}, r);
    add(at, events::RequestFailed{.attempts = 1, .reason = "not found"}, r);
    return r;
  }

  RequestView view;

 private:
  std::uint64_t next_ = 1;
};

inline std::vector<events::EventId> ids(const ListPage& page) {
  std::vector<events::EventId> out;
  for (const RequestSummary& s : page.items) out.push_back(s.id);
  return out;
}

}  // namespace api_broker::view::testing
