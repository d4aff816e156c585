#pragma once
// A stop request that can be raised from a signal handler or another thread and waited on
// together with other file descriptors (poll). Backed by an eventfd. Part of the base layer:
// the store's followers, the processor and the commands all wait on one.

#include <atomic>
#include <chrono>

namespace api_broker {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Async-signal-safe.
  void request_stop() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept {
    return stopped_.load(std::memory_order_acquire);
  }
  // Readable once a stop was requested; for poll() next to other descriptors.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  // Sleeps up to `timeout`; returns early (true) when a stop is requested.
  bool wait_for(std::chrono::milliseconds timeout) const;  // NOLINT(modernize-use-nodiscard)
  // Re-arms the signal, so that it can serve as a reusable wake-up between two threads.
  void clear() noexcept;

 private:
  int fd_ = -1;
  std::atomic<bool> stopped_{false};
};

// Installs SIGINT/SIGTERM handlers that raise `signal`; the previous handlers come back
// when the returned guard is destroyed.
class StopOnSignals {
 public:
  explicit StopOnSignals(StopSignal& signal);
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
};

}  // namespace api_broker
