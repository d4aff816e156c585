#pragma once
// --log-format: how the loggers (processor, serve, eventstore) write their lines. text is
// spdlog's default pattern; json is one JSON object a line, for jq and log collectors.

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::cli {

inline constexpr std::string_view log_format_names = "text or json";

// A line as one JSON object: {"time":"2026-12-01T05:53:02.123Z","level":"debug",
// "logger":"processor","message":"...", then the LogFields of the logging thread}. Always
// valid JSON: bytes that are not UTF-8 become U+FFFD.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;
};

// Sets the format of every logger, now and made later; "text" or "json", else invalid_input.
Result<void> use_log_format(std::string_view name);

}  // namespace api_broker::cli
