#pragma once
// Bearer tokens: full ones and read-only ones, compared in constant time (their SHA-256
// digests, each compared with CRYPTO_memcmp against every configured token, so neither the
// content nor the length of a token leaks through timing).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/result.hpp"
#include "message.hpp"

namespace api_broker::service {

// A token as configured: 16 to 512 visible ASCII characters (no spaces). Errc::invalid_input
// otherwise, without quoting the token.
Result<void> check_token(std::string_view token);

inline constexpr std::size_t token_file_bytes_max = std::size_t{1024} * 1024;

// The tokens of a token file: one a line; blank lines and lines starting with '#' ignored;
// spaces around a token dropped. Errc::invalid_input naming the file and line.
Result<std::vector<std::string>> read_tokens(std::string_view text, std::string_view path);

// Why a request that writes (a POST) is refused as coming from a web page
// on another site through the user's browser, or "" when it is not. A page can send a
// "simple" cross-site POST (text/plain, no preflight) to a service on loopback, which without
// a token would accept it: a write must say its body is JSON (a page can send that only after
// a CORS preflight, which this service never grants), and an Origin header, when present,
// must name this service's own Host. Applied when no token is configured (with tokens, a page
// cannot send one it does not have).
std::string refuse_cross_site_write(const Request& request);

class Tokens {
 public:
  Tokens() = default;
  // REQUIRES: every token passed check_token().
  Tokens(const std::vector<std::string>& full, const std::vector<std::string>& read_only);

  [[nodiscard]] bool empty() const { return digests_.empty(); }
  // The access an Authorization header value gives ("Bearer TOKEN"; the scheme in any case).
  [[nodiscard]] Access access_of(std::string_view authorization) const;

 private:
  using Digest = std::array<std::uint8_t, 32>;
  struct Entry {
    Digest digest;
    Access access;
  };
  std::vector<Entry> digests_;
};

}  // namespace api_broker::service
