#include "metrics_follower.hpp"

#include <utility>

namespace api_broker::service {

MetricsFollower::MetricsFollower(broker::StoreOpener open_store, Metrics& metrics,
                                 std::function<void(const Error&)> on_error,
                                 std::chrono::milliseconds reopen_delay)
    : open_store_(std::move(open_store)),
      metrics_(metrics),
      on_error_(std::move(on_error)),
      reopen_delay_(reopen_delay),
      thread_([this] { run(); }) {}

MetricsFollower::~MetricsFollower() { stop(); }

void MetricsFollower::stop() {
  stop_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void MetricsFollower::run() {
  const auto report = [this](const Error& error) {
    if (on_error_) on_error_(error);
  };
  while (!stop_.stop_requested()) {
    auto store = open_store_();
    if (!store) {
      report(store.error());
      (void)stop_.wait_for(reopen_delay_);
      continue;
    }
    auto followed = store::follow(
        **store, metrics_.last_observed(), stop_,
        [this](const events::Envelope& envelope) {
          metrics_.observe(envelope);
          return true;
        },
        [&](const Error& corrupt) {  // reported and skipped, as every follower does
          report(corrupt);
          return true;
        });
    (void)(*store)->close();
    if (!followed) {
      report(followed.error());
      (void)stop_.wait_for(reopen_delay_);
    }
  }
}

}  // namespace api_broker::service
