#include "bson_payload.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace api_broker::store::mongo {
namespace {

using Json = nlohmann::ordered_json;

void append_value(bson_t* parent, std::string_view key, const Json& value);

void append_members(bson_t* document, const Json& object) {
  for (const auto& [key, value] : object.items()) append_value(document, key, value);
}

void append_value(bson_t* parent, std::string_view key, const Json& value) {
  const char* k = key.data();
  const int length = static_cast<int>(key.size());
  switch (value.type()) {
    case Json::value_t::object: {
      bson_t child;
      bson_append_document_begin(parent, k, length, &child);
      append_members(&child, value);
      bson_append_document_end(parent, &child);
      break;
    }
    case Json::value_t::array: {
      bson_t child;
      bson_append_array_begin(parent, k, length, &child);
      std::size_t index = 0;
      for (const Json& element : value) append_value(&child, std::to_string(index++), element);
      bson_append_array_end(parent, &child);
      break;
    }
    case Json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      bson_append_utf8(parent, k, length, text.data(), static_cast<int>(text.size()));
      break;
    }
    case Json::value_t::boolean:
      bson_append_bool(parent, k, length, value.get<bool>());
      break;
    case Json::value_t::number_integer: {
      const auto number = value.get<std::int64_t>();
      if (number >= std::numeric_limits<std::int32_t>::min() &&
          number <= std::numeric_limits<std::int32_t>::max()) {
        bson_append_int32(parent, k, length, static_cast<std::int32_t>(number));
      } else {
        bson_append_int64(parent, k, length, number);
      }
      break;
    }
    case Json::value_t::number_unsigned: {
      const auto number = value.get<std::uint64_t>();
      if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
        bson_append_int32(parent, k, length, static_cast<std::int32_t>(number));
      } else if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        bson_append_int64(parent, k, length, static_cast<std::int64_t>(number));
      } else {  // above int64: a decimal keeps every digit
        bson_decimal128_t decimal;
        bson_decimal128_from_string(std::to_string(number).c_str(), &decimal);
        bson_append_decimal128(parent, k, length, &decimal);
      }
      break;
    }
    case Json::value_t::number_float:
      bson_append_double(parent, k, length, value.get<double>());
      break;
    default:
      bson_append_null(parent, k, length);
      break;
  }
}

Result<Json> to_json(bson_iter_t* iter, bool array);

Result<Json> value_of(bson_iter_t* iter) {
  switch (bson_iter_type(iter)) {
    case BSON_TYPE_DOUBLE:
      return Json(bson_iter_double(iter));
    case BSON_TYPE_UTF8: {
      std::uint32_t length = 0;
      const char* text = bson_iter_utf8(iter, &length);
      return Json(std::string(text, length));
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
      bson_iter_t child;
      if (!bson_iter_recurse(iter, &child)) return fail(Errc::corrupt, "malformed BSON");
      return to_json(&child, bson_iter_type(iter) == BSON_TYPE_ARRAY);
    }
    case BSON_TYPE_BOOL:
      return Json(bson_iter_bool(iter));
    case BSON_TYPE_NULL:
      return Json(nullptr);
    case BSON_TYPE_INT32:
      return Json(static_cast<std::int64_t>(bson_iter_int32(iter)));
    case BSON_TYPE_INT64:
      return Json(bson_iter_int64(iter));
    case BSON_TYPE_DECIMAL128: {
      bson_decimal128_t decimal;
      bson_iter_decimal128(iter, &decimal);
      char text[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&decimal, text);
      const std::string_view digits(text);
      std::uint64_t whole = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), whole);
      if (ec == std::errc() && end == digits.data() + digits.size()) return Json(whole);
      auto parsed = Json::parse(digits, nullptr, false);
      if (parsed.is_number()) return parsed;
      return fail(Errc::corrupt, fmt::format("the decimal {} is not a JSON number", digits));
    }
    default:
      return fail(Errc::corrupt, fmt::format("the payload holds a BSON value of type 0x{:02x}, "
                                             "which JSON cannot hold",
                                             static_cast<int>(bson_iter_type(iter))));
  }
}

Result<Json> to_json(bson_iter_t* iter, bool array) {
  Json out = array ? Json::array() : Json::object();
  while (bson_iter_next(iter)) {
    auto value = value_of(iter);
    if (!value) return value;
    if (array) {
      out.push_back(std::move(*value));
    } else {
      out[bson_iter_key(iter)] = std::move(*value);
    }
  }
  return out;
}

bool has_nul_key(const Json& value) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      if (key.find('\0') != std::string::npos || has_nul_key(member)) return true;
    }
  } else if (value.is_array()) {
    for (const Json& element : value) {
      if (has_nul_key(element)) return true;
    }
  }
  return false;
}

}  // namespace

Result<void> append_json_document(bson_t* parent, const char* key, std::string_view json) {
  Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return fail(Errc::invalid_input, "the payload is not a JSON object");
  if (has_nul_key(parsed)) {
    return fail(Errc::invalid_input, "a payload key holds a NUL character, which BSON cannot");
  }
  bson_t child;
  bson_append_document_begin(parent, key, -1, &child);
  append_members(&child, parsed);
  bson_append_document_end(parent, &child);
  return {};
}

Result<std::string> document_to_json(const bson_t* document) {
  bson_iter_t iter;
  if (!bson_iter_init(&iter, document)) return fail(Errc::corrupt, "malformed BSON");
  auto json = to_json(&iter, false);
  if (!json) return fail(std::move(json).error());
  return json->dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace api_broker::store::mongo
