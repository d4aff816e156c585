#pragma once
// The broker's figures for Prometheus (GET /metrics), kept in a prometheus-cpp registry and
// written with its TextSerializer. Most are a fold of the log: the service hands every event
// it follows to observe(Envelope), in id order from the start of the log, so the figures are
// the same after a restart. The rest come from where they happen: the processor's counters
// when it runs in the same process (observe(ProcessorStats)) and the store commits of the
// HTTP submissions and of the processor (observe_commit). docs/OPERATIONS.md lists them.
//
// Thread-safe: the follower, the processor's loop and the HTTP handlers call it at once.
// Memory is bounded by the requests unfinished, limits::metrics_targets_max targets and
// limits::metrics_finished_remembered_max finished requests.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api_broker/broker/processor_options.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/thread_safety.hpp"
#include "api_broker/time.hpp"
#include "series.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace api_broker::service {

// Who committed a batch of events to the store.
enum class Writer : std::uint8_t { submissions, processor };

class Metrics {
 public:
  // `series_seconds`: the seconds of history series() keeps (see Series).
  explicit Metrics(std::size_t series_seconds = 300);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Folds one event of the log. REQUIRES: events in id order (older ids are ignored).
  void observe(const events::Envelope& envelope) API_BROKER_EXCLUDES(mutex_);
  // Folds a batch of the log under one lock, the gauges set once after it.
  void observe(std::span<const events::Envelope> batch) API_BROKER_EXCLUDES(mutex_);
  // The processor's counters, as run_processor reports them.
  void observe(const broker::ProcessorStats& stats) API_BROKER_EXCLUDES(mutex_);
  // One transaction of `events` events that took `took` to commit.
  void observe_commit(Writer writer, std::size_t events, Duration took) API_BROKER_EXCLUDES(mutex_);

  // The text exposition format (version 0.0.4); ages are measured at `now`.
  [[nodiscard]] std::string scrape(TimePoint now) API_BROKER_EXCLUDES(mutex_);
  // The dashboard's per-second figures up to `now`.
  [[nodiscard]] std::deque<SeriesPoint> series(TimePoint now) const API_BROKER_EXCLUDES(mutex_);
  // The newest event folded (0 = none).
  [[nodiscard]] events::EventId last_observed() const API_BROKER_EXCLUDES(mutex_);

 private:
  // A request whose terminal event has not been read.
  struct Unfinished {
    TimePoint requested_at;  // of its request, or of its newest request-retried
    std::string target;      // its label
    std::map<std::uint32_t, TimePoint> attempts;  // attempts started and not ended
  };
  struct Families;

  // Folds one event; false if it was seen already.
  bool fold(const events::Envelope& envelope) API_BROKER_REQUIRES(mutex_);
  void fold_request(const events::Envelope& envelope, const events::Request& request)
      API_BROKER_REQUIRES(mutex_);
  void fold_attempt_start(const events::Envelope& envelope, std::uint32_t attempt)
      API_BROKER_REQUIRES(mutex_);
  void fold_attempt_end(const events::Envelope& envelope, std::uint32_t attempt,
                        std::string_view result, std::string_view kind) API_BROKER_REQUIRES(mutex_);
  void fold_terminal(const events::Envelope& envelope, std::string_view outcome)
      API_BROKER_REQUIRES(mutex_);
  void fold_retried(const events::Envelope& envelope) API_BROKER_REQUIRES(mutex_);
  void fold_breaker(std::string_view target, double state, std::string_view to)
      API_BROKER_REQUIRES(mutex_);
  void remember_finished(events::EventId id, std::string target) API_BROKER_REQUIRES(mutex_);
  std::string target_label(std::string_view target) API_BROKER_REQUIRES(mutex_);
  void set_unfinished_gauges() API_BROKER_REQUIRES(mutex_);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;

  mutable Mutex mutex_;
  events::EventId last_ API_BROKER_GUARDED_BY(mutex_){};
  std::map<events::EventId, Unfinished> unfinished_ API_BROKER_GUARDED_BY(mutex_);
  std::map<std::string, std::uint64_t, std::less<>> calls_in_flight_ API_BROKER_GUARDED_BY(mutex_);
  std::unordered_map<std::uint64_t, std::string> finished_targets_ API_BROKER_GUARDED_BY(mutex_);
  std::deque<std::uint64_t> finished_order_ API_BROKER_GUARDED_BY(mutex_);
  std::set<std::string, std::less<>> targets_ API_BROKER_GUARDED_BY(mutex_);  // label values
  std::optional<events::EventId> processor_position_ API_BROKER_GUARDED_BY(mutex_);
  Series series_ API_BROKER_GUARDED_BY(mutex_);
};

}  // namespace api_broker::service
