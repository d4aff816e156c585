#pragma once
// The one JSON codec of events. Stores keep (class tag, payload JSON text) and call this,
// so a new class needs no change in any backend.

#include <span>
#include <string>
#include <string_view>

#include "api_broker/events/envelope.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"

namespace api_broker::events {

// Every class tag, in the order of the Event variant.
std::span<const std::string_view> class_names();

// The payload as compact JSON text.
std::string encode_payload(const Event& event);

// Decodes a payload of class `class_tag`. Errc::invalid_input for an unknown class, a
// payload longer than `bytes_max` or that is not JSON, a missing field or a value of the wrong
// type or range.
Result<Event> decode_payload(std::string_view class_tag, std::string_view payload,
                             std::size_t bytes_max = limits::payload_bytes_max);

// A payload given as input (`insert CLASS JSON`): decode_payload, and also Errc::invalid_input
// for a key that stands twice in an object and for a field the class does not have, so that
// what is stored is what was given. (Events read back from a store use decode_payload.)
Result<Event> decode_input_payload(std::string_view class_tag, std::string_view payload,
                                   std::size_t bytes_max = limits::payload_bytes_max);

// An id given as text: decimal digits only, at most 2^64 - 1 (0 is no_event).
Result<EventId> parse_event_id(std::string_view text);

// The whole envelope as one line of JSON: {"id":..,"created":"..Z","causation_id":..,
// "external_uuid":..,"class":..,"payload":{..}}.
std::string envelope_to_json(const Envelope& envelope);
// One readable line: "42 2026-11-27T20:52:30.123456Z request (caused by 0) {...}".
std::string envelope_to_line(const Envelope& envelope);
// `text` as a JSON string literal, quotes included (bytes that are not UTF-8 become U+FFFD).
std::string json_string(std::string_view text);
// The length of the longest prefix of `text` whose JSON string form, as encode_payload writes
// it (quotes excluded), takes at most `encoded_bytes_max` bytes: a control byte takes six
// (\u001f), a byte that is not UTF-8 three (U+FFFD), '"' and '\\' two. The prefix never ends
// inside a UTF-8 sequence. A byte that is not UTF-8 is counted at its largest cost, so the
// real form may be shorter, never longer.
std::size_t json_string_prefix(std::string_view text, std::size_t encoded_bytes_max);
// `text` without the UTF-8 sequence its end cuts short, if any: for a text cut at a byte count.
std::string_view without_cut_sequence(std::string_view text);
// `text` quoted in a one-line message: its first `max_bytes` bytes, printable ASCII as it is,
// every other byte as \xNN, and "..." when it was cut.
std::string printable(std::string_view text, std::size_t max_bytes = 64);
// RFC 3339 UTC with microseconds.
std::string format_time(TimePoint time);

}  // namespace api_broker::events
