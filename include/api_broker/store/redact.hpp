#pragma once
// Passwords out of connection strings, for every backend that prints one (PostgreSQL and
// MongoDB URLs, libpq conninfo). Pulls in nothing but <string>.

#include <string>
#include <string_view>

namespace api_broker::store {

// `text` with passwords replaced by "***": `password=...` (conninfo and URI query) and the
// `user:password@` part of a URI. For anything that prints a connection string.
std::string redact_password(std::string_view text);

}  // namespace api_broker::store
