#include "api_broker/events/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "api_broker/events/strict_json.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::events {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, std::variant_size_v<Event>> class_tags = {
    "configuration",  "simple",
    "request",        "api-request",
    "api-response",   "api-failure",
    "api-timeout",    "request-succeeded",
    "request-failed", "target",
    "breaker-opened", "breaker-half-opened",
    "breaker-closed", "request-cancelled",
    "request-retried"};

// Bodies may hold bytes that are not UTF-8: they are stored with U+FFFD in their place.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The length of the UTF-8 sequence that starts `text` if it is well-formed (RFC 3629: no
// overlong form, no surrogate, at most U+10FFFF, as nlohmann-json's decoder checks), else 0.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;  // the range of the second byte
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

struct Unit {
  std::size_t length;  // bytes of the text
  std::size_t cost;    // bytes of its JSON form
};

// The first character of `text` (REQUIRES: not empty) and what dump() makes of it.
Unit json_string_unit(std::string_view text) {
  const auto c = static_cast<unsigned char>(text.front());
  if (c < 0x80) {
    switch (c) {
      case '"':
      case '\\':
      case '\b':
      case '\f':
      case '\n':
      case '\r':
      case '\t':
        return {1, 2};
      default:
        return {1, c < 0x20 ? std::size_t{6} : std::size_t{1}};
    }
  }
  if (const std::size_t length = utf8_sequence_length(text); length > 0) return {length, length};
  return {1, 3};  // U+FFFD, at most one per byte
}

// Reads the fields of one payload object and remembers the first problem.
class FieldReader {
 public:
  FieldReader(const json& object, std::string_view class_tag)
      : object_(object), class_tag_(class_tag) {}

  std::string text(const char* name, bool required) {
    const json* value = find(name, required);
    if (value == nullptr) return {};
    if (!value->is_string()) return wrong(name, "a string"), std::string();
    return value->get<std::string>();
  }

  std::uint32_t attempt(const char* name) {
    const std::int64_t value = integer(name, true, 0);
    if (value < 0 || value > limits::retries_max) {
      wrong(name, "an attempt number from 0 to 1000");
      return 0;
    }
    return static_cast<std::uint32_t>(value);
  }

  // An HTTP status code, or 0 for none; a wider integer would not fit the event's field.
  std::int32_t status(const char* name, std::int32_t fallback) {
    const std::int64_t value = integer(name, false, fallback);
    if (value < 0 || value > 999) {
      wrong(name, "an HTTP status from 0 to 999");
      return fallback;
    }
    return static_cast<std::int32_t>(value);
  }

  std::int64_t integer(const char* name, bool required, std::int64_t fallback) {
    const json* value = find(name, required);
    if (value == nullptr) return fallback;
    if (value->is_number_integer()) return value->get<std::int64_t>();
    if (value->is_number_float()) {  // 3.0 is fine; 3.5 is not
      const double number = value->get<double>();
      if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) < 9e15) {
        return static_cast<std::int64_t>(number);
      }
    }
    wrong(name, "an integer");
    return fallback;
  }

  double number(const char* name, double fallback) {
    const json* value = find(name, false);
    if (value == nullptr) return fallback;
    if (!value->is_number()) return wrong(name, "a number"), fallback;
    const double result = value->get<double>();
    if (!std::isfinite(result)) return wrong(name, "a finite number"), fallback;
    return result;
  }

  bool flag(const char* name) {
    const json* value = find(name, false);
    if (value == nullptr) return false;
    if (!value->is_boolean()) return wrong(name, "true or false"), false;
    return value->get<bool>();
  }

  // An array of [name, value] string pairs, in the order written; absent = none.
  std::vector<HeaderField> headers(const char* name) {
    const json* value = find(name, false);
    if (value == nullptr) return {};
    const char* expected = "an array of [name, value] string pairs";
    if (!value->is_array() || value->size() > limits::header_fields_max) {
      return wrong(name, expected), std::vector<HeaderField>{};
    }
    std::vector<HeaderField> fields;
    for (const json& pair : *value) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        return wrong(name, expected), std::vector<HeaderField>{};
      }
      fields.push_back({pair[0].get<std::string>(), pair[1].get<std::string>()});
    }
    return fields;
  }

  std::uint32_t count(const char* name, bool required = false) {
    const std::int64_t value = integer(name, required, 0);
    if (value < 0 || value > std::numeric_limits<std::uint32_t>::max()) {
      wrong(name, "a whole number from 0 to 4294967295");
      return 0;
    }
    return static_cast<std::uint32_t>(value);
  }

  Result<Event> finish(Event event) {
    if (!problem_.empty()) return fail(Errc::invalid_input, problem_);
    return event;
  }

 private:
  const json* find(const char* name, bool required) {
    const auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) {
      if (required && problem_.empty()) {
        problem_ = fmt::format("{} payload lacks the field '{}'", class_tag_, name);
      }
      return nullptr;
    }
    return &*it;
  }
  void wrong(const char* name, const char* expected) {
    if (problem_.empty()) {
      problem_ = fmt::format("{} payload field '{}' must be {}", class_tag_, name, expected);
    }
  }

  const json& object_;
  std::string_view class_tag_;
  std::string problem_;
};

// Header fields as [["Name", "value"], ...]: an array keeps their order and repeated names,
// which an object (nlohmann's sorts its keys) would lose on a round trip.
json headers_json(const std::vector<HeaderField>& headers) {
  json array = json::array();
  for (const auto& field : headers) array.push_back(json::array({field.name, field.value}));
  return array;
}

json request_json(const Request& e) {
  json j = {{"request", e.request}};
  const auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) j[name] = value;
  };
  add("method", e.method);
  add("url", e.url);
  add("target", e.target);
  add("path", e.path);
  if (!e.headers.empty()) j["headers"] = headers_json(e.headers);
  add("content_type", e.content_type);
  return j;
}

json target_json(const Target& e) {
  json j = {{"name", e.name}, {"url", e.url}};
  if (!e.headers.empty()) j["headers"] = headers_json(e.headers);
  if (e.removed) j["removed"] = true;
  const auto add = [&](const char* name, auto value) {
    if (value != decltype(value){}) j[name] = value;
  };
  add("redirects_max", e.redirects_max);
  add("retry_on", e.retry_on);
  add("calls_max", e.calls_max);
  add("rate", e.rate);
  add("burst", e.burst);
  add("breaker_failures", e.breaker_failures);
  add("breaker_ratio", e.breaker_ratio);
  add("breaker_window", e.breaker_window);
  add("breaker_pause", e.breaker_pause);
  add("on_timeout", e.on_timeout);
  return j;
}

Target decode_target(FieldReader& r) {
  Target e;
  e.name = r.text("name", true);
  e.url = r.text("url", false);
  e.headers = r.headers("headers");
  e.removed = r.flag("removed");
  e.redirects_max = r.count("redirects_max");
  e.retry_on = r.text("retry_on", false);
  e.calls_max = r.count("calls_max");
  e.rate = r.number("rate", 0);
  e.burst = r.number("burst", 0);
  e.breaker_failures = r.count("breaker_failures");
  e.breaker_ratio = r.number("breaker_ratio", 0);
  e.breaker_window = r.number("breaker_window", 0);
  e.breaker_pause = r.number("breaker_pause", 0);
  e.on_timeout = r.text("on_timeout", false);
  return e;
}

Request decode_request(FieldReader& r) {
  Request e;
  e.request = r.text("request", true);
  e.method = r.text("method", false);
  e.url = r.text("url", false);
  e.target = r.text("target", false);
  e.path = r.text("path", false);
  e.headers = r.headers("headers");
  e.content_type = r.text("content_type", false);
  return e;
}

json payload_json(const Event& event) {
  return std::visit(
      [](const auto& e) -> json {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Configuration>) {
          json j = {{"retries", e.retries}, {"timeout", e.timeout}};
          auto add = [&](const char* name, double value) {
            if (value != -1) j[name] = value;
          };
          add("backoff_initial", e.backoff_initial);
          add("backoff_multiplier", e.backoff_multiplier);
          add("backoff_max", e.backoff_max);
          add("backoff_jitter", e.backoff_jitter);
          add("deadline", e.deadline);
          return j;
        } else if constexpr (std::is_same_v<T, Simple>) {
          return {{"message", e.message}};
        } else if constexpr (std::is_same_v<T, Request>) {
          return request_json(e);
          // NOLINTNEXTLINE(bugprone-branch-clone): api-timeout holds the same one field
        } else if constexpr (std::is_same_v<T, ApiRequest>) {
          return {{"attempt", e.attempt}};
        } else if constexpr (std::is_same_v<T, ApiResponse>) {
          json j = {{"attempt", e.attempt}, {"response", e.response}, {"status", e.status}};
          if (e.truncated) j["truncated"] = true;
          return j;
        } else if constexpr (std::is_same_v<T, ApiFailure>) {
          json j = {{"attempt", e.attempt}, {"failure", e.failure}, {"status", e.status}};
          if (!e.body.empty()) j["body"] = e.body;
          if (e.retry_after != -1) j["retry_after"] = e.retry_after;  // -1: none
          if (e.truncated) j["truncated"] = true;
          if (e.permanent) j["permanent"] = true;
          return j;
        } else if constexpr (std::is_same_v<T, ApiTimeout>) {
          return {{"attempt", e.attempt}};
        } else if constexpr (std::is_same_v<T, RequestSucceeded>) {
          return {{"attempts", e.attempts}, {"attempt", e.attempt}};
        } else if constexpr (std::is_same_v<T, RequestFailed>) {
          return {{"attempts", e.attempts}, {"reason", e.reason}};
        } else if constexpr (std::is_same_v<T, Target>) {
          return target_json(e);
        } else if constexpr (std::is_same_v<T, BreakerHalfOpened>) {
          return {{"target", e.target}};
        } else if constexpr (std::is_same_v<T, RequestCancelled>) {
          return {{"reason", e.reason}};
        } else if constexpr (std::is_same_v<T, RequestRetried>) {
          return {{"reason", e.reason}, {"round", e.round}, {"attempts", e.attempts}};
        } else {
          static_assert(std::is_same_v<T, BreakerOpened> || std::is_same_v<T, BreakerClosed>);
          return {{"target", e.target}, {"reason", e.reason}};
        }
      },
      event);
}

Result<Event> decode_object(std::size_t index, const json& j) {
  FieldReader r(j, class_tags[index]);
  switch (index) {
    case 0: {
      Configuration c;
      c.retries = r.integer("retries", false, -1);
      c.timeout = r.number("timeout", -1);
      c.backoff_initial = r.number("backoff_initial", -1);
      c.backoff_multiplier = r.number("backoff_multiplier", -1);
      c.backoff_max = r.number("backoff_max", -1);
      c.backoff_jitter = r.number("backoff_jitter", -1);
      c.deadline = r.number("deadline", -1);
      return r.finish(c);
    }
    case 1:
      return r.finish(Simple{r.text("message", true)});
    case 2:
      return r.finish(decode_request(r));
    case 3:
      return r.finish(ApiRequest{r.attempt("attempt")});
    case 4: {
      ApiResponse e;
      e.attempt = r.attempt("attempt");
      e.response = r.text("response", true);
      e.status = r.status("status", 200);
      e.truncated = r.flag("truncated");
      return r.finish(e);
    }
    case 5: {
      ApiFailure e;
      e.attempt = r.attempt("attempt");
      e.failure = r.text("failure", true);
      e.status = r.status("status", 0);
      e.body = r.text("body", false);
      e.retry_after = r.number("retry_after", -1);
      e.truncated = r.flag("truncated");
      e.permanent = r.flag("permanent");
      return r.finish(e);
    }
    case 6:
      return r.finish(ApiTimeout{r.attempt("attempt")});
    case 7: {
      RequestSucceeded e;
      e.attempts = r.attempt("attempts");
      e.attempt = r.attempt("attempt");
      return r.finish(e);
    }
    case 8: {
      RequestFailed e;
      e.attempts = r.attempt("attempts");
      e.reason = r.text("reason", true);
      return r.finish(e);
    }
    case 9:
      return r.finish(decode_target(r));
    case 10: {
      BreakerOpened e;
      e.target = r.text("target", true);
      e.reason = r.text("reason", false);
      return r.finish(e);
    }
    case 11:
      return r.finish(BreakerHalfOpened{r.text("target", true)});
    case 12: {
      BreakerClosed e;
      e.target = r.text("target", true);
      e.reason = r.text("reason", false);
      return r.finish(e);
    }
    case 13:
      return r.finish(RequestCancelled{r.text("reason", false)});
    case 14:
      return r.finish(RequestRetried{.reason = r.text("reason", false),
                                     .round = r.count("round", true),
                                     .attempts = r.count("attempts", true)});
  }
  API_BROKER_ASSERT(false);
  return fail(Errc::invalid_input, "unreachable");
}

}  // namespace

std::span<const std::string_view> class_names() { return class_tags; }

std::string encode_payload(const Event& event) { return dump(payload_json(event)); }

namespace {

// The fields of each class, in the order of class_tags.
std::span<const std::string_view> class_fields(std::size_t index) {
  static constexpr std::string_view configuration[] = {
      "retries",     "timeout",        "backoff_initial", "backoff_multiplier",
      "backoff_max", "backoff_jitter", "deadline"};
  static constexpr std::string_view simple[] = {"message"};
  static constexpr std::string_view request[] = {"request", "method",  "url",         "target",
                                                 "path",    "headers", "content_type"};
  static constexpr std::string_view attempt[] = {"attempt"};
  static constexpr std::string_view response[] = {"attempt", "response", "status", "truncated"};
  static constexpr std::string_view failure[] = {"attempt",     "failure",   "status",   "body",
                                                 "retry_after", "truncated", "permanent"};
  static constexpr std::string_view succeeded[] = {"attempts", "attempt"};
  static constexpr std::string_view failed[] = {"attempts", "reason"};
  static constexpr std::string_view target[] = {"name",          "url",
                                                "headers",       "removed",
                                                "redirects_max", "retry_on",
                                                "calls_max",     "rate",
                                                "burst",         "breaker_failures",
                                                "breaker_ratio", "breaker_window",
                                                "breaker_pause", "on_timeout"};
  static constexpr std::string_view breaker[] = {"target", "reason"};
  static constexpr std::string_view breaker_target[] = {"target"};
  static constexpr std::string_view reason[] = {"reason"};
  static constexpr std::string_view retried[] = {"reason", "round", "attempts"};
  static constexpr std::array<std::span<const std::string_view>, std::variant_size_v<Event>> all = {
      configuration, simple, request, attempt,        response, failure, attempt, succeeded,
      failed,        target, breaker, breaker_target, breaker,  reason,  retried};
  return all[index];
}

Result<Event> decode(std::string_view class_tag, std::string_view payload, std::size_t bytes_max,
                     bool strict) {
  std::size_t index = class_tags.size();
  for (std::size_t i = 0; i < class_tags.size(); ++i) {
    if (class_tags[i] == class_tag) index = i;
  }
  if (index == class_tags.size()) {
    return fail(Errc::invalid_input, fmt::format("unknown event class '{}'", printable(class_tag)));
  }
  if (payload.size() > bytes_max) {
    return fail(Errc::invalid_input,
                fmt::format("{} payload is larger than {} bytes", class_tag, bytes_max));
  }
  json j;
  if (strict) {
    StrictJsonError refused;
    auto parsed = parse_strict_json(payload, refused);
    if (!parsed) {
      return fail(Errc::invalid_input, fmt::format("{} payload {}", class_tag, refused.message));
    }
    j = std::move(*parsed);
  } else {
    j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return fail(Errc::invalid_input, fmt::format("{} payload is not valid JSON", class_tag));
    }
  }
  if (!j.is_object()) {
    return fail(Errc::invalid_input, fmt::format("{} payload is not a JSON object", class_tag));
  }
  if (strict) {
    const auto fields = class_fields(index);
    for (const auto& [key, value] : j.items()) {
      if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
        std::string known;
        for (const auto field : fields) known += fmt::format(" {}", field);
        return fail(Errc::invalid_input,
                    fmt::format("{} payload has the unknown field '{}' (its fields:{})", class_tag,
                                printable(key), known));
      }
    }
  }
  return decode_object(index, j);
}

}  // namespace

Result<Event> decode_payload(std::string_view class_tag, std::string_view payload,
                             std::size_t bytes_max) {
  return decode(class_tag, payload, bytes_max, false);
}

Result<Event> decode_input_payload(std::string_view class_tag, std::string_view payload,
                                   std::size_t bytes_max) {
  return decode(class_tag, payload, bytes_max, true);
}

Result<EventId> parse_event_id(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  // The stores keep ids as signed 64-bit integers: a larger one would read as negative.
  if (text.empty() || ec != std::errc() || ptr != end ||
      value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return fail(Errc::invalid_input,
                fmt::format("'{}' is not an event id (a whole number up to {})", printable(text),
                            std::numeric_limits<std::int64_t>::max()));
  }
  return EventId{value};
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

std::string json_string(std::string_view text) { return dump(json(std::string(text))); }

std::size_t json_string_prefix(std::string_view text, std::size_t encoded_bytes_max) {
  std::size_t encoded = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto [length, cost] = json_string_unit(text.substr(i));
    if (cost > encoded_bytes_max - encoded) break;
    encoded += cost;
    i += length;
  }
  return i;
}

std::string_view without_cut_sequence(std::string_view text) {
  const std::size_t from = text.size() < 3 ? 0 : text.size() - 3;
  for (std::size_t j = text.size(); j-- > from;) {
    const auto c = static_cast<unsigned char>(text[j]);
    if (c >= 0x80 && c <= 0xbf) continue;  // a continuation byte: look further back
    const std::size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return length > text.size() - j ? text.substr(0, j) : text;
  }
  return text;
}

std::string format_time(TimePoint time) {
  const auto micros = time.time_since_epoch().count();
  std::int64_t seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

std::string envelope_to_json(const Envelope& envelope) {
  json j = {{"id", to_int(envelope.id)},
            {"created", format_time(envelope.created)},
            {"causation_id", to_int(envelope.causation_id)},
            {"external_uuid", nullptr},
            {"class", class_name(envelope.event)},
            {"payload", payload_json(envelope.event)}};
  if (envelope.external_uuid) j["external_uuid"] = to_string(*envelope.external_uuid);
  return dump(j);
}

std::string envelope_to_line(const Envelope& envelope) {
  std::string line = fmt::format("{} {} {}", to_int(envelope.id), format_time(envelope.created),
                                 class_name(envelope.event));
  if (envelope.causation_id != no_event) {
    line += fmt::format(" cause={}", to_int(envelope.causation_id));
  }
  if (envelope.external_uuid) line += " uuid=" + to_string(*envelope.external_uuid);
  line += ' ';
  line += encode_payload(envelope.event);
  return line;
}

}  // namespace api_broker::events
