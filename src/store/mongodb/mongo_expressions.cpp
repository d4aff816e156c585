// The update pipelines and values the MongoDB store's lock document and leases share.
#include "mongo_store_impl.hpp"

#include <algorithm>
#include <limits>

namespace api_broker::store::mongo {

std::int64_t clamp_to_int64(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

void append_uuid(bson_t* document, const char* key, const Uuid& uuid) {
  bson_append_binary(document, key, -1, BSON_SUBTYPE_UUID, uuid.bytes.data(),
                     static_cast<std::uint32_t>(uuid.bytes.size()));
}

void append_literal(bson_t* parent, const char* key, std::string_view text) {
  bson_t literal;
  bson_append_document_begin(parent, key, -1, &literal);
  bson_append_utf8(&literal, "$literal", -1, text.data(), static_cast<int>(text.size()));
  bson_append_document_end(parent, &literal);
}

void append_conditional_set(bson_t* pipeline, const bson_t* condition,
                            std::initializer_list<std::pair<const char*, const bson_t*>> fields,
                            const char* stage_key) {
  bson_t stage, set;
  bson_append_document_begin(pipeline, stage_key, -1, &stage);
  bson_append_document_begin(&stage, "$set", -1, &set);
  for (const auto& [name, value] : fields) {
    bson_t field, cond;
    bson_append_document_begin(&set, name, -1, &field);
    bson_append_array_begin(&field, "$cond", -1, &cond);
    bson_append_document(&cond, "0", -1, condition);
    bson_iter_t iter;  // the new value: the single member "v" of `value`
    if (bson_iter_init_find(&iter, value, "v")) bson_append_iter(&cond, "1", -1, &iter);
    const std::string keep = std::string("$") + name;
    bson_append_utf8(&cond, "2", -1, keep.c_str(), -1);
    bson_append_array_end(&field, &cond);
    bson_append_document_end(&set, &field);
  }
  bson_append_document_end(&stage, &set);
  bson_append_document_end(pipeline, &stage);
}

Bson free_or_expired(std::initializer_list<std::string_view> owners) {
  Bson condition(bson_new());
  bson_t any, alternative, pair;
  bson_append_array_begin(condition.get(), "$or", -1, &any);
  int index = 0;
  auto compare_owner = [&](std::optional<std::string_view> owner) {
    bson_append_document_begin(&any, std::to_string(index++).c_str(), -1, &alternative);
    bson_append_array_begin(&alternative, "$eq", -1, &pair);
    bson_append_utf8(&pair, "0", -1, "$owner", -1);
    if (owner) {
      append_literal(&pair, "1", *owner);
    } else {
      bson_append_null(&pair, "1", -1);
    }
    bson_append_array_end(&alternative, &pair);
    bson_append_document_end(&any, &alternative);
  };
  compare_owner(std::nullopt);
  for (std::string_view owner : owners) {
    if (!owner.empty()) compare_owner(owner);
  }
  bson_append_document_begin(&any, std::to_string(index++).c_str(), -1, &alternative);
  bson_append_array_begin(&alternative, "$lte", -1, &pair);
  bson_append_utf8(&pair, "0", -1, "$expires", -1);
  bson_append_utf8(&pair, "1", -1, "$$NOW", -1);
  bson_append_array_end(&alternative, &pair);
  bson_append_document_end(&any, &alternative);
  bson_append_array_end(condition.get(), &any);
  return condition;
}

}  // namespace api_broker::store::mongo
