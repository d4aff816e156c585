#pragma once
// A decorator that logs every call to the store it wraps (as the prototype's did): calls at
// debug, failures at warn (duplicates, not found) or error (everything else).

#include <memory>
#include <string_view>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

enum class LogLevel { debug, info, warn, error, crit, off };
// The accepted names, for help texts: "debug|info|warn|error|crit|off".
inline constexpr std::string_view log_level_names = "debug|info|warn|error|crit|off";
Result<LogLevel> parse_log_level(std::string_view text);

std::unique_ptr<EventStore> make_logging_store(std::unique_ptr<EventStore> inner, LogLevel level);

}  // namespace api_broker::store
