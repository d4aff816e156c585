#pragma once
// A client-supplied external identifier: 128 bits, written as the canonical 8-4-4-4-12
// lowercase hex form.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::events {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

// Accepts the canonical form in either case, with optional surrounding braces.
Result<Uuid> parse_uuid(std::string_view text);
std::string to_string(const Uuid& uuid);
// An external UUID given as input (the command line, a store's append): parse_uuid, and not
// the nil UUID, which the prototype read as "no UUID" (Errc::invalid_input).
Result<Uuid> parse_external_uuid(std::string_view text);
// Errc::invalid_input for the nil UUID, which cannot serve as an external UUID.
Result<void> check_external_uuid(const Uuid& uuid);
// A random (version 4) UUID, from the OS's random source.
Uuid random_uuid();
// The external UUID of the request-retried that starts round `round` of request `request` (a
// version 8 UUID that packs both): the store keeps one event per UUID, so two retries of the
// same failure, appended at once, cannot both be stored.
Uuid retry_uuid(std::uint64_t request, std::uint32_t round);

}  // namespace api_broker::events
