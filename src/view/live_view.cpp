#include "api_broker/view/live_view.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "api_broker/thread_name.hpp"

namespace api_broker::view {
namespace {

// How often a waiter looks at its caller's StopSignal, which does not wake the condition.
constexpr std::chrono::milliseconds stop_poll{50};

}  // namespace

struct LiveView::Impl {
  Impl(StoreOpener open, LiveViewOptions opts)
      : open_store(std::move(open)), options(std::move(opts)) {}

  StoreOpener open_store;
  LiveViewOptions options;

  mutable std::shared_mutex mutex;
  RequestView view;  // guarded by mutex
  mutable std::condition_variable_any applied;
  std::atomic<bool> caught_up{false};
  StopSignal stop;
  std::thread follower;

  void report(const Error& error) const {
    if (options.on_error) options.on_error(error);
  }

  // Folds one batch under the exclusive lock, then wakes the waiters.
  bool apply(std::span<const events::Envelope> batch, bool at_end) {
    if (!batch.empty()) {
      const std::unique_lock lock(mutex);
      for (const events::Envelope& envelope : batch) view.apply(envelope);
    }
    if (at_end) caught_up.store(true, std::memory_order_release);
    if (!batch.empty() || at_end) applied.notify_all();
    if (!batch.empty() && options.on_applied) options.on_applied(batch);
    return true;
  }

  // Follows the log from where the view stands, opening the store again after a failure,
  // until stopped.
  void run() {
    while (!stop.stop_requested()) {
      auto store = open_store();
      if (!store) {
        caught_up.store(false, std::memory_order_release);
        report(store.error());
        stop.wait_for(options.reopen_delay);
        continue;
      }
      events::EventId from{};
      {
        const std::shared_lock lock(mutex);
        from = view.last_applied();
      }
      auto followed = store::follow_batches(
          **store, from, stop,
          [this](std::span<const events::Envelope> batch, bool at_end) {
            return apply(batch, at_end);
          },
          [this](const Error& error) {
            report(error);  // a corrupt row: reported and skipped, as follow() does
            return true;
          });
      if (!followed) {
        caught_up.store(false, std::memory_order_release);
        report(followed.error());
        stop.wait_for(options.reopen_delay);
      }
    }
    applied.notify_all();
  }
};

LiveView::LiveView(StoreOpener open_store, LiveViewOptions options)
    : impl_(std::make_unique<Impl>(std::move(open_store), std::move(options))) {
  impl_->follower = std::thread([impl = impl_.get()] {
    name_this_thread("ab-view");
    impl->run();
  });
}

LiveView::~LiveView() { stop(); }

void LiveView::stop() {
  impl_->stop.request_stop();
  if (impl_->follower.joinable()) impl_->follower.join();
}

void LiveView::read(const std::function<void(const RequestView&)>& f) const {
  const std::shared_lock lock(impl_->mutex);
  f(impl_->view);
}

bool LiveView::wait_until(const std::function<bool(const RequestView&)>& pred, TimePoint deadline,
                          const StopSignal& stop) const {
  std::shared_lock lock(impl_->mutex);
  while (true) {
    if (pred(impl_->view)) return true;
    const TimePoint now = utc_now();
    if (now >= deadline || stop.stop_requested() || impl_->stop.stop_requested()) return false;
    const TimePoint wake = std::min<TimePoint>(deadline, now + stop_poll);
    impl_->applied.wait_until(lock, wake);
  }
}

bool LiveView::caught_up() const { return impl_->caught_up.load(std::memory_order_acquire); }

}  // namespace api_broker::view
