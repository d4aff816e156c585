#include "waiters.hpp"

#include "api_broker/limits.hpp"
#include "api_broker/thread_name.hpp"

namespace api_broker::service {

Waiters::Waiters(const view::LiveView& view)
    : view_(view), thread_([this] {
        name_this_thread("ab-waiters");
        run();
      }) {}

Waiters::~Waiters() { stop(); }

Result<void> Waiters::add(Waiter waiter) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return fail(Errc::unavailable, "the service is stopping");
    if (count_ >= limits::service_waiters_max) {
      return fail(Errc::unavailable, "too many requests are waiting (?wait=): try again later");
    }
    ++count_;
    incoming_.push_back(std::move(waiter));
  }
  wake_.request_stop();
  added_.notify_one();
  return {};
}

void Waiters::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.request_stop();
  added_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Waiters::run() {
  std::vector<Waiter> held;
  bool stopping = false;
  while (!stopping) {
    {
      std::unique_lock lock(mutex_);
      added_.wait(lock, [&] { return stopping_ || !incoming_.empty() || !held.empty(); });
      stopping = stopping_;
      for (auto& waiter : incoming_) held.push_back(std::move(waiter));
      incoming_.clear();
      wake_.clear();
    }
    if (!stopping) {
      TimePoint deadline = held.front().deadline;
      for (const auto& waiter : held) deadline = std::min(deadline, waiter.deadline);
      (void)view_.wait_until(
          [&](const view::RequestView& view) {
            for (const auto& waiter : held) {
              if (waiter.ready(view)) return true;
            }
            return false;
          },
          deadline, wake_);
    }
    const TimePoint now = utc_now();
    std::size_t finished = 0;
    view_.read([&](const view::RequestView& view) {
      std::vector<Waiter> still;
      for (auto& waiter : held) {
        if (stopping || now >= waiter.deadline || waiter.ready(view)) {
          waiter.finish(view);
          ++finished;
        } else {
          still.push_back(std::move(waiter));
        }
      }
      held = std::move(still);
    });
    const std::lock_guard lock(mutex_);
    count_ -= finished;
  }
}

}  // namespace api_broker::service
