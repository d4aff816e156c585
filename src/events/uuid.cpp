#include "api_broker/events/uuid.hpp"

#include <sys/random.h>

#include <cerrno>

#include "api_broker/events/codec.hpp"

namespace api_broker::events {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Uuid> parse_uuid(std::string_view text) {
  std::string_view body = text;
  if (body.size() == 38 && body.front() == '{' && body.back() == '}') {
    body = body.substr(1, 36);
  }
  auto invalid = [&] {
    return fail(Errc::invalid_input,
                "malformed UUID '" + printable(text) +
                    "': expected 8-4-4-4-12 hex digits, like 123e4567-e89b-12d3-a456-426614174000");
  };
  if (body.size() != 36) return invalid();
  Uuid uuid;
  std::size_t byte = 0;
  for (std::size_t i = 0; i < body.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (body[i] != '-') return invalid();
      ++i;
      continue;
    }
    const int high = hex_value(body[i]);
    const int low = hex_value(body[i + 1]);
    if (high < 0 || low < 0) return invalid();
    uuid.bytes[byte++] = static_cast<std::uint8_t>(high * 16 + low);
    i += 2;
  }
  API_BROKER_ASSERT(byte == 16);
  return uuid;
}

Result<void> check_external_uuid(const Uuid& uuid) {
  if (uuid == Uuid{}) {
    return fail(Errc::invalid_input,
                "the nil UUID 00000000-0000-0000-0000-000000000000 cannot be an external UUID "
                "(it reads as none); choose another one");
  }
  return {};
}

Result<Uuid> parse_external_uuid(std::string_view text) {
  auto uuid = parse_uuid(text);
  if (!uuid) return uuid;
  if (auto valid = check_external_uuid(*uuid); !valid) return fail(std::move(valid).error());
  return uuid;
}

std::string to_string(const Uuid& uuid) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < uuid.bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(digits[uuid.bytes[i] >> 4]);
    text.push_back(digits[uuid.bytes[i] & 0x0f]);
  }
  return text;
}

Uuid random_uuid() {
  Uuid uuid;
  std::size_t filled = 0;
  while (filled < uuid.bytes.size()) {
    const ssize_t got = getrandom(uuid.bytes.data() + filled, uuid.bytes.size() - filled, 0);
    if (got < 0) {
      API_BROKER_ASSERT(errno == EINTR);  // getrandom of 16 bytes fails only when interrupted
      continue;
    }
    filled += static_cast<std::size_t>(got);
  }
  uuid.bytes[6] = static_cast<std::uint8_t>((uuid.bytes[6] & 0x0f) | 0x40);
  uuid.bytes[8] = static_cast<std::uint8_t>((uuid.bytes[8] & 0x3f) | 0x80);
  return uuid;
}

Uuid retry_uuid(std::uint64_t request, std::uint32_t round) {
  // "7274" ("rt"), the round, then the request id around the version and variant bits.
  Uuid uuid;
  uuid.bytes[0] = 0x72;
  uuid.bytes[1] = 0x74;
  uuid.bytes[2] = static_cast<std::uint8_t>(round >> 24);
  uuid.bytes[3] = static_cast<std::uint8_t>(round >> 16);
  uuid.bytes[4] = static_cast<std::uint8_t>(round >> 8);
  uuid.bytes[5] = static_cast<std::uint8_t>(round);
  uuid.bytes[6] = 0x80;  // version 8
  uuid.bytes[7] = static_cast<std::uint8_t>(request >> 56);
  uuid.bytes[8] = 0x80;  // variant
  for (std::size_t i = 0; i < 7; ++i) {
    uuid.bytes[9 + i] = static_cast<std::uint8_t>(request >> (8 * (6 - i)));
  }
  return uuid;
}

}  // namespace api_broker::events
