#include "api_broker/stop_signal.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "api_broker/assert.hpp"

namespace api_broker {

StopSignal::StopSignal() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  API_BROKER_ASSERT(fd_ >= 0);  // only fails when the process is out of descriptors
}

StopSignal::~StopSignal() { ::close(fd_); }

void StopSignal::request_stop() noexcept {
  stopped_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(fd_, &one, sizeof one);
}

void StopSignal::clear() noexcept {
  stopped_.store(false, std::memory_order_release);
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t got = ::read(fd_, &count, sizeof count);
}

bool StopSignal::wait_for(std::chrono::milliseconds timeout) const {
  if (stop_requested()) return true;
  pollfd entry{fd_, POLLIN, 0};
  const int rc = ::poll(&entry, 1, static_cast<int>(timeout.count()));
  return rc > 0 || stop_requested();
}

namespace {

StopSignal* signal_target = nullptr;
struct sigaction previous_int {};
struct sigaction previous_term {};

extern "C" void on_stop_signal(int) {
  if (signal_target != nullptr) signal_target->request_stop();
}

}  // namespace

StopOnSignals::StopOnSignals(StopSignal& signal) {
  signal_target = &signal;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

StopOnSignals::~StopOnSignals() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  signal_target = nullptr;
}

}  // namespace api_broker
