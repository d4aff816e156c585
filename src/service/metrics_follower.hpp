#pragma once
// The thread that feeds Metrics from the log: on its own store connection it hands every event,
// from the start of the log, to Metrics::observe, then each new one as it is appended. A store
// that fails is opened again after a pause; the metrics go on from the last event they saw.

#include <chrono>
#include <functional>
#include <thread>

#include "api_broker/broker/processor.hpp"
#include "api_broker/stop_signal.hpp"
#include "metrics.hpp"

namespace api_broker::service {

class MetricsFollower {
 public:
  // Starts following at once. `on_error` (optional) is told of each store error, on the
  // follower's thread. REQUIRES: `metrics` outlives this.
  MetricsFollower(broker::StoreOpener open_store, Metrics& metrics,
                  std::function<void(const Error&)> on_error = {},
                  std::chrono::milliseconds reopen_delay = std::chrono::milliseconds(500));
  ~MetricsFollower();  // stop()
  MetricsFollower(const MetricsFollower&) = delete;
  MetricsFollower& operator=(const MetricsFollower&) = delete;

  void stop();

 private:
  void run();

  broker::StoreOpener open_store_;
  Metrics& metrics_;
  std::function<void(const Error&)> on_error_;
  std::chrono::milliseconds reopen_delay_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace api_broker::service
