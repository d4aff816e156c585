#include "log_format.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>

#include "api_broker/events/codec.hpp"
#include "api_broker/log_fields.hpp"

namespace api_broker::cli {

namespace {

std::string utc_time(spdlog::log_clock::time_point time) {
  const auto millis =
      std::chrono::time_point_cast<std::chrono::milliseconds>(time).time_since_epoch().count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", utc, millis % 1000);
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json line;
  line["time"] = utc_time(msg.time);
  const auto level = spdlog::level::to_string_view(msg.level);
  line["level"] = std::string(level.data(), level.size());
  line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
  line["message"] = std::string(msg.payload.data(), msg.payload.size());
  for (const LogField& field : LogFields::current()) {
    const std::string name(field.name);
    std::visit([&](const auto& value) { line[name] = value; }, field.value);
  }
  // replace: a byte that is not UTF-8 becomes U+FFFD instead of an exception.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

Result<void> use_log_format(std::string_view name) {
  if (name == "json") {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>());
    return {};
  }
  if (name == "text") return {};  // spdlog's own pattern
  return fail(Errc::invalid_input, fmt::format("--log-format must be {}, not '{}'",
                                               log_format_names, events::printable(name)));
}

}  // namespace api_broker::cli
