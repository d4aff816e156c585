#include "api_broker/events/strict_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::events {

using nlohmann::json;

std::optional<json> parse_strict_json(std::string_view text, StrictJsonError& error) {
  // Keys seen in each open object: a second one would silently replace the first.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool too_deep = false;
  const json::parser_callback_t watch = [&](int depth, json::parse_event_t event, json& parsed) {
    if (static_cast<std::size_t>(depth) > limits::json_depth_max) too_deep = true;
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json parsed = json::parse(text, watch, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    error = {JsonRefusal::not_json, "is not valid JSON"};
    return std::nullopt;
  }
  if (too_deep) {
    error = {JsonRefusal::too_deep,
             fmt::format("nests deeper than {} levels", limits::json_depth_max)};
    return std::nullopt;
  }
  if (!duplicate.empty()) {
    error = {JsonRefusal::duplicate_key,
             fmt::format("has the key '{}' twice", printable(duplicate))};
    return std::nullopt;
  }
  return parsed;
}

}  // namespace api_broker::events
