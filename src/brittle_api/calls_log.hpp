#pragma once
// The optional calls log of the brittle API: one JSON line per call's outcome, with what the
// call sent (method, target, headers, body).

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api_broker/result.hpp"

namespace api_broker::brittle_api::detail {

// An append-only file of JSON lines, buffered in memory: the owner calls flush() every
// 100 ms and before closing. Not thread-safe: one owner at a time. A write error is reported
// once to stderr and the lines are dropped, so a full disk does not stop the server.
class CallsLog {
 public:
  // Opens `path` for appending, creating it if needed. Errc::unavailable if it cannot.
  static Result<CallsLog> open(const std::string& path);

  // One call: when its outcome was applied and when it arrived (unix microseconds), its
  // Idempotency-Key, outcome and drawn latency, and the attempt its client named, if any.
  struct Line {
    std::int64_t t_us;
    std::string_view key;
    std::string_view outcome;
    double latency_ms;
    std::int64_t received_us;
    std::optional<std::uint32_t> attempt;
    // What the call sent: its method, target (path and query), every header field as
    // received, and its body.
    std::string_view method{};
    std::string_view target{};
    std::vector<std::pair<std::string_view, std::string_view>> headers{};
    std::string_view body{};
  };

  // Buffers {"t_us":...,"key":...,"outcome":...,"latency_ms":...,"received_us":...,
  // "attempt":N|null,"method":...,"target":...,"headers":[[name,value],...],"body":...};
  // flushes when the buffer reaches buffer_bytes_max, so memory stays
  // bounded between timer flushes.
  void append(const Line& line);
  // Writes the buffered lines and flushes them to the OS (no fsync).
  void flush();

  static constexpr std::size_t buffer_bytes_max = std::size_t{1024} * 1024;

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  CallsLog(std::unique_ptr<std::FILE, FileCloser> file, std::string path);

  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string path_;
  std::string buffer_;
  bool write_error_reported_ = false;
};

}  // namespace api_broker::brittle_api::detail
