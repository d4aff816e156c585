#pragma once
// A condition that repeats (the store is down, a commit keeps failing) is told once when it
// starts, then summed up at most every `every` while it lasts, and once when it clears, with
// how often it happened: an outage of the database gives a handful of lines, not one per try.
// Not thread-safe: one owner.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace api_broker::broker {

class RepeatedWarning {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(const std::string& line)>;

  // `what`: the condition, as the start of a sentence ("cannot commit events").
  RepeatedWarning(std::string what, Sink sink,
                  std::chrono::milliseconds every = std::chrono::seconds(30));

  // It happened (again) at `now`, for `reason`.
  void happened(const std::string& reason, Clock::time_point now = Clock::now());
  // It is over (the operation succeeded): a line if it had happened since the last clear.
  void cleared(Clock::time_point now = Clock::now());

  [[nodiscard]] std::uint64_t count() const { return count_; }  // since it started; 0 when clear

 private:
  std::string what_;
  Sink sink_;
  std::chrono::milliseconds every_;
  std::uint64_t count_ = 0;
  std::uint64_t count_told_ = 0;
  Clock::time_point since_{};
  Clock::time_point told_at_{};
};

}  // namespace api_broker::broker
