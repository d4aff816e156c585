#include "calls_log.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/core.h>

#include "log.hpp"
#include "text.hpp"

namespace api_broker::brittle_api::detail {

Result<CallsLog> CallsLog::open(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "a"));
  if (!file) {
    return fail(Errc::unavailable, fmt::format("cannot open the calls log '{}': {}", path,
                                               std::generic_category().message(errno)));
  }
  return CallsLog(std::move(file), path);
}

CallsLog::CallsLog(std::unique_ptr<std::FILE, FileCloser> file, std::string path)
    : file_(std::move(file)), path_(std::move(path)) {}

void CallsLog::append(const Line& line) {
  buffer_ += fmt::format("{{\"t_us\":{},\"key\":", line.t_us);
  append_json_string(buffer_, line.key);
  buffer_ += fmt::format(",\"outcome\":\"{}\",\"latency_ms\":{},\"received_us\":{},\"attempt\":",
                         line.outcome, line.latency_ms, line.received_us);
  buffer_ += line.attempt ? fmt::format("{}", *line.attempt) : std::string("null");
  buffer_ += ",\"method\":";
  append_json_string(buffer_, line.method);
  buffer_ += ",\"target\":";
  append_json_string(buffer_, line.target);
  buffer_ += ",\"headers\":[";
  for (std::size_t i = 0; i < line.headers.size(); ++i) {
    buffer_ += i == 0 ? "[" : ",[";
    append_json_string(buffer_, line.headers[i].first);
    buffer_ += ',';
    append_json_string(buffer_, line.headers[i].second);
    buffer_ += ']';
  }
  buffer_ += "],\"body\":";
  append_json_string(buffer_, line.body);
  buffer_ += "}\n";
  if (buffer_.size() >= buffer_bytes_max) flush();
}

void CallsLog::flush() {
  if (buffer_.empty()) return;
  const bool written =
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) == buffer_.size() &&
      std::fflush(file_.get()) == 0;
  if (!written && !write_error_reported_) {
    write_error_reported_ = true;
    log_line(fmt::format("cannot write the calls log '{}': {}; its lines are lost", path_,
                         std::generic_category().message(errno)));
  }
  buffer_.clear();
}

}  // namespace api_broker::brittle_api::detail
