#include "submission.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "api_broker/events/codec.hpp"
#include "api_broker/events/strict_json.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::service {
namespace {

using nlohmann::json;

// The fields of a request object as the API names them.
constexpr std::string_view api_fields[] = {"body", "method",  "url",         "target",
                                           "path", "headers", "content_type"};

bool is_api_field(std::string_view key) {
  for (const auto field : api_fields) {
    if (field == key) return true;
  }
  return false;
}

// Parses `text` as input JSON: no key twice in an object, no deeper than limits::json_depth_max.
std::optional<json> parse_strict(std::string_view text, ParseError& error) {
  events::StrictJsonError refused;
  auto parsed = events::parse_strict_json(text, refused);
  if (!parsed) {
    error = {.json_error = refused.refusal == events::JsonRefusal::not_json,
             .error = {Errc::invalid_input, fmt::format("the body {}", refused.message)}};
  }
  return parsed;
}

// One request object: its fields renamed as the store names them (body -> request), then
// decoded by the event codec as `insert` decodes a request's JSON, and checked as `insert`
// checks it.
std::optional<events::Request> to_request(const json& object,
                                          const std::vector<broker::UrlPrefix>& allowed,
                                          ParseError& error, bool key_allowed) {
  auto invalid = [&](std::string message) {
    error = {.json_error = false, .error = {Errc::invalid_input, std::move(message)}};
    return std::nullopt;
  };
  if (!object.is_object()) return invalid("a request must be a JSON object");
  json payload = json::object();
  for (const auto& [key, value] : object.items()) {
    if (key == "idempotency_key" && key_allowed) continue;
    if (!is_api_field(key)) {
      return invalid(
          fmt::format("unknown field '{}' (the fields: body, method, url, target, path, headers, "
                      "content_type{})",
                      events::printable(key), key_allowed ? ", idempotency_key" : ""));
    }
    payload[key == "body" ? "request" : key] = value;
  }
  if (!payload.contains("request")) return invalid("the field 'body' is missing");
  auto event = events::decode_input_payload("request", payload.dump());
  if (!event) {
    std::string message = event.error().message;
    // The codec names the stored field: say what the API calls it.
    if (const auto at = message.find("'request'"); at != std::string::npos) {
      message.replace(at, 9, "'body'");
    }
    if (message.rfind("request payload ", 0) == 0) message.replace(0, 16, "the request ");
    return invalid(std::move(message));
  }
  auto checked = broker::check_request(std::get<events::Request>(*event));
  if (!checked) return invalid(checked.error().message);
  if (auto ok = broker::check_allowed(allowed, *checked); !ok) return invalid(ok.error().message);
  return std::move(*checked);
}

}  // namespace

std::optional<events::Request> parse_request_json(std::string_view text,
                                                  const std::vector<broker::UrlPrefix>& allowed,
                                                  ParseError& error) {
  auto parsed = parse_strict(text, error);
  if (!parsed) return std::nullopt;
  return to_request(*parsed, allowed, error, false);
}

std::optional<std::vector<BatchItem>> parse_batch_json(
    std::string_view text, const std::vector<broker::UrlPrefix>& allowed, ParseError& error,
    long& index) {
  index = -1;
  auto parsed = parse_strict(text, error);
  if (!parsed) return std::nullopt;
  auto invalid = [&](std::string message) {
    error = {.json_error = false, .error = {Errc::invalid_input, std::move(message)}};
    return std::nullopt;
  };
  if (!parsed->is_object() || parsed->size() != 1 || !parsed->contains("requests") ||
      !(*parsed)["requests"].is_array()) {
    return invalid("a batch is a JSON object {\"requests\": [ ... ]} and nothing else");
  }
  const json& items = (*parsed)["requests"];
  if (items.empty()) return invalid("a batch needs at least one request");
  if (items.size() > limits::service_batch_requests_max) {
    return invalid(fmt::format("a batch holds at most {} requests, not {}",
                               limits::service_batch_requests_max, items.size()));
  }
  std::vector<BatchItem> batch;
  batch.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    index = static_cast<long>(i);
    auto request = to_request(items[i], allowed, error, true);
    if (!request) return std::nullopt;
    BatchItem item{.request = std::move(*request)};
    if (items[i].contains("idempotency_key")) {
      const json& key = items[i]["idempotency_key"];
      if (!key.is_string()) return invalid("idempotency_key must be a string");
      item.idempotency_key = key.get<std::string>();
    }
    batch.push_back(std::move(item));
  }
  index = -1;
  return batch;
}

Result<events::Uuid> idempotency_uuid(std::string_view key) {
  if (key.empty()) return fail(Errc::invalid_input, "the idempotency key is empty");
  if (key.size() > limits::idempotency_key_bytes_max) {
    return fail(Errc::invalid_input, fmt::format("the idempotency key is longer than {} bytes",
                                                 limits::idempotency_key_bytes_max));
  }
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return fail(Errc::invalid_input, "the idempotency key holds a control character");
    }
  }
  // RFC 9562 version 5: SHA-1 of a namespace and the name. The namespace is api-broker's own
  // (a fixed random UUID), so keys map to UUIDs no other naming scheme makes.
  static constexpr unsigned char name_space[16] = {0x6f, 0x1c, 0x3a, 0x52, 0x8d, 0x47, 0x4e, 0x0b,
                                                   0x9a, 0x61, 0x2c, 0xf4, 0x7e, 0x13, 0xb5, 0x88};
  std::string name(reinterpret_cast<const char*>(name_space), sizeof name_space);
  name.append(key);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest);
  events::Uuid uuid;
  for (std::size_t i = 0; i < uuid.bytes.size(); ++i) uuid.bytes[i] = digest[i];
  uuid.bytes[6] = static_cast<std::uint8_t>((uuid.bytes[6] & 0x0f) | 0x50);  // version 5
  uuid.bytes[8] = static_cast<std::uint8_t>((uuid.bytes[8] & 0x3f) | 0x80);  // RFC variant
  return uuid;
}

}  // namespace api_broker::service
