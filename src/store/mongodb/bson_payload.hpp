#pragma once
// Payloads as BSON documents, so that users can query them with their own MongoDB tools:
// the codec's JSON text becomes a document (integers as int32/int64, fractions as doubles,
// strings, booleans, nulls, arrays, objects) and a stored document becomes JSON text again
// for the codec. The round trip gives back the same event.

#include <bson/bson.h>

#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::store::mongo {

// Appends the JSON object `json` to `parent` as the sub-document `key`.
// Errc::invalid_input when `json` is not a JSON object or a key holds a NUL character.
Result<void> append_json_document(bson_t* parent, const char* key, std::string_view json);

// The document as compact JSON text. Errc::corrupt (message only) for a BSON type that
// JSON cannot hold (dates, binary data, ...), which only another tool can have written.
Result<std::string> document_to_json(const bson_t* document);

}  // namespace api_broker::store::mongo
