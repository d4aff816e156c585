#include "auth.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "api_broker/events/codec.hpp"

namespace api_broker::service {
namespace {

constexpr std::size_t token_chars_min = 16;
constexpr std::size_t token_chars_max = 512;

std::array<std::uint8_t, 32> digest_of(std::string_view text) {
  std::array<std::uint8_t, 32> digest{};
  static_assert(SHA256_DIGEST_LENGTH == 32);
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<void> check_token(std::string_view token) {
  if (token.size() < token_chars_min || token.size() > token_chars_max) {
    return fail(Errc::invalid_input,
                fmt::format("an API token must have {} to {} characters (this one has {})",
                            token_chars_min, token_chars_max, token.size()));
  }
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return fail(Errc::invalid_input,
                  "an API token may hold only visible ASCII characters (no spaces)");
    }
  }
  return {};
}

Result<std::vector<std::string>> read_tokens(std::string_view text, std::string_view path) {
  std::vector<std::string> tokens;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty() || line.front() == '#') continue;
    if (auto valid = check_token(line); !valid) {
      return fail(Errc::invalid_input,
                  fmt::format("{} line {}: {}", path, line_number, valid.error().message));
    }
    tokens.emplace_back(line);
  }
  return tokens;
}

Tokens::Tokens(const std::vector<std::string>& full, const std::vector<std::string>& read_only) {
  for (const auto& token : full) digests_.push_back({digest_of(token), Access::full});
  for (const auto& token : read_only) digests_.push_back({digest_of(token), Access::read_only});
}

Access Tokens::access_of(std::string_view authorization) const {
  authorization = trim(authorization);
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return Access::none;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) {
      return Access::none;
    }
  }
  const Digest presented = digest_of(trim(authorization.substr(scheme.size())));
  Access access = Access::none;
  // Every entry is compared, whatever matched before: the time does not depend on which.
  for (const Entry& entry : digests_) {
    const bool same = CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0;
    if (same && entry.access == Access::full) access = Access::full;
    if (same && entry.access == Access::read_only && access == Access::none) {
      access = Access::read_only;
    }
  }
  return access;
}

std::string refuse_cross_site_write(const Request& request) {
  if (request.method != "POST") return {};  // the API's only method that writes
  std::string_view type = request.header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower != "application/json") {
    return "a request that writes must send its body as Content-Type: application/json";
  }
  const std::string_view origin = request.header("origin");
  if (origin.empty()) return {};
  const auto scheme_end = origin.find("://");
  const std::string_view host =
      scheme_end == std::string_view::npos ? origin : origin.substr(scheme_end + 3);
  if (host != request.header("host")) return "a request from another origin is refused";
  return {};
}

}  // namespace api_broker::service
