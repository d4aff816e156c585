#pragma once
// Requests held until the read model says something (long polls: a request finished; or the
// view reached a request just submitted), each with a deadline. One thread waits on the
// LiveView for all of them, so a long poll holds no thread of its own.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "api_broker/result.hpp"
#include "api_broker/stop_signal.hpp"
#include "api_broker/time.hpp"
#include "api_broker/view/live_view.hpp"

namespace api_broker::service {

struct Waiter {
  // Whether the answer is ready; runs under the view's shared lock after each applied batch.
  std::function<bool(const view::RequestView&)> ready;
  // Answers, once: when ready() held or the deadline passed (or the service stops); runs
  // under the view's shared lock.
  std::function<void(const view::RequestView&)> finish;
  TimePoint deadline;
};

class Waiters {
 public:
  explicit Waiters(const view::LiveView& view);
  ~Waiters();
  Waiters(const Waiters&) = delete;
  Waiters& operator=(const Waiters&) = delete;

  // Errc::unavailable when limits::service_waiters_max are waiting already.
  Result<void> add(Waiter waiter);
  // Finishes every waiter now and ends the thread.
  void stop();

 private:
  void run();

  const view::LiveView& view_;
  std::mutex mutex_;
  std::condition_variable added_;
  std::vector<Waiter> incoming_;
  std::size_t count_ = 0;  // incoming and held
  bool stopping_ = false;
  StopSignal wake_;  // raised by add() and stop(), to end the thread's wait on the view
  std::thread thread_;
};

}  // namespace api_broker::service
