#include "openssl_errors.hpp"

#include <fmt/format.h>
#include <openssl/err.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace api_broker::http::detail {

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {}", code);
}

Result<void> check_readable(const std::string& path, std::string_view what) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return fail(Errc::invalid_input, fmt::format("cannot read {} '{}': {}", what, path,
                                                 std::generic_category().message(errno)));
  }
  std::fclose(file);
  return {};
}

}  // namespace api_broker::http::detail
