#pragma once
// The envelope every stored event sits in.

#include <compare>
#include <cstdint>
#include <optional>

#include "api_broker/events/events.hpp"
#include "api_broker/events/uuid.hpp"
#include "api_broker/time.hpp"

namespace api_broker::events {

// Assigned by the store; strictly increasing in the order followers see events. 0 = none.
enum class EventId : std::uint64_t {};
inline constexpr EventId no_event{0};
inline std::uint64_t to_int(EventId id) { return static_cast<std::uint64_t>(id); }

struct Envelope {
  EventId id{};
  TimePoint created{};     // when the store persisted it (UTC, microseconds)
  EventId causation_id{};  // the event that caused it; api-* point at their request
  std::optional<Uuid> external_uuid;
  Event event;
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

// What a writer hands to the store; the store adds id and created.
struct NewEvent {
  Event event;
  EventId causation_id{};
  std::optional<Uuid> external_uuid;
};

}  // namespace api_broker::events
