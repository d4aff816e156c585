#pragma once
// What the client's and the servers' TLS set-up say when OpenSSL or a file refuses.

#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::http::detail {

// OpenSSL's reason for the last failure on this thread, and the queue emptied.
std::string openssl_reason();

// A file that cannot be opened is named with the system's reason, before OpenSSL's vaguer one.
Result<void> check_readable(const std::string& path, std::string_view what);

}  // namespace api_broker::http::detail
