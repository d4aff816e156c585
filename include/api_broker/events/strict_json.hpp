#pragma once
// JSON given as input (`insert CLASS JSON`, the HTTP service's request bodies), parsed with two
// refusals nlohmann-json does not make itself: a key that stands twice in one object (JSON
// would silently keep the last, so what is stored would not be what was given) and arrays or
// objects nested deeper than limits::json_depth_max (copying or printing such a value would
// recurse that deep).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace api_broker::events {

// Why parse_strict_json refused a text.
enum class JsonRefusal : std::uint8_t { not_json, too_deep, duplicate_key };

struct StrictJsonError {
  JsonRefusal refusal = JsonRefusal::not_json;
  // A predicate for the caller to put after its own subject, on one line: "is not valid JSON",
  // "nests deeper than 32 levels", "has the key 'x' twice" (the key printable()).
  std::string message;
};

// Parses `text` as one JSON value. On a refusal, returns nothing and sets `error`.
std::optional<nlohmann::json> parse_strict_json(std::string_view text, StrictJsonError& error);

}  // namespace api_broker::events
