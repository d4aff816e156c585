#include "metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>

#include "api_broker/limits.hpp"

namespace api_broker::service {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Seconds from a request to its outcome: backoffs and deadlines make this minutes or hours.
const Histogram::BucketBoundaries& request_buckets() {
  static const Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                   2.5,   5,    10,    30,   60,  300,  900, 3600};
  return buckets;
}
// Seconds of one attempt: an HTTP call, bounded by the attempt timeout.
const Histogram::BucketBoundaries& attempt_buckets() {
  static const Histogram::BucketBoundaries buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1,     2.5,  5,     10,   30};
  return buckets;
}
const Histogram::BucketBoundaries& batch_buckets() {
  static const Histogram::BucketBoundaries buckets{1,   2,   4,   8,    16,   32,  64,
                                                   128, 256, 512, 1024, 2048, 4096};
  return buckets;
}
const Histogram::BucketBoundaries& commit_buckets() {
  static const Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  return buckets;
}

// "2xx" for 204: the class of a status, as the attempts' `class` label shows it.
std::string status_class(std::int32_t status) {
  if (status < 100 || status > 599) return "other";
  return std::to_string(status / 100) + "xx";
}

std::string_view writer_name(Writer writer) {
  return writer == Writer::submissions ? "submissions" : "processor";
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::max(0.0, to_seconds(to - from));
}

// The request-failed reason the processor writes for a cancelled request.
bool is_cancellation(const std::string& reason) { return reason.starts_with("cancelled"); }

template <class>
inline constexpr bool always_false = false;

}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : submitted(prometheus::BuildCounter()
                      .Name("api_broker_requests_submitted_total")
                      .Help("Requests appended to the log (request events).")
                      .Register(r)),
        finished(prometheus::BuildCounter()
                     .Name("api_broker_requests_finished_total")
                     .Help("Requests that reached a terminal event, by outcome "
                           "(succeeded, failed, cancelled).")
                     .Register(r)),
        retried(prometheus::BuildCounter()
                    .Name("api_broker_requests_retried_total")
                    .Help("Failed requests given a new round of attempts (request-retried).")
                    .Register(r)),
        attempts_started(prometheus::BuildCounter()
                             .Name("api_broker_attempts_started_total")
                             .Help("Attempts started (api-request events), by target.")
                             .Register(r)),
        attempts(prometheus::BuildCounter()
                     .Name("api_broker_attempts_total")
                     .Help("Attempts ended, by target, result (answered, failed, timed_out) and "
                           "class (the status class 2xx..5xx, connection, permanent, timeout).")
                     .Register(r)),
        request_seconds(prometheus::BuildHistogram()
                            .Name("api_broker_request_duration_seconds")
                            .Help("Seconds from a request (or its retry) to its terminal event, "
                                  "by outcome.")
                            .Register(r)),
        attempt_seconds(prometheus::BuildHistogram()
                            .Name("api_broker_attempt_duration_seconds")
                            .Help("Seconds from an attempt's start to its first ending, by "
                                  "result.")
                            .Register(r)),
        unfinished(prometheus::BuildGauge()
                       .Name("api_broker_requests_in_flight")
                       .Help("Requests without a terminal event yet (waiting, in flight or "
                             "backing off).")
                       .Register(r)),
        oldest_age(prometheus::BuildGauge()
                       .Name("api_broker_oldest_unfinished_request_age_seconds")
                       .Help("Age of the oldest request without a terminal event; 0 if none.")
                       .Register(r)),
        calls_in_flight(prometheus::BuildGauge()
                            .Name("api_broker_target_calls_in_flight")
                            .Help("Attempts started and not ended, by target.")
                            .Register(r)),
        breaker_state(prometheus::BuildGauge()
                          .Name("api_broker_target_breaker_state")
                          .Help("Circuit breaker of a target: 0 closed, 1 half-open, 2 open.")
                          .Register(r)),
        breaker_transitions(prometheus::BuildCounter()
                                .Name("api_broker_target_breaker_transitions_total")
                                .Help("Breaker events of a target, by the state entered.")
                                .Register(r)),
        last_event(prometheus::BuildGauge()
                       .Name("api_broker_log_last_event_id")
                       .Help("Id of the newest event of the log the service has read.")
                       .Register(r)),
        processor(prometheus::BuildGauge()
                      .Name("api_broker_processor_requests")
                      .Help("Requests the processor of this process holds, by state (active: "
                            "admitted, parked: waiting for a place).")
                      .Register(r)),
        waiting_for_target(prometheus::BuildGauge()
                               .Name("api_broker_processor_attempts_waiting_for_target")
                               .Help("Due attempts held back by their target's call slots, rate "
                                     "limit or breaker.")
                               .Register(r)),
        lag(prometheus::BuildGauge()
                .Name("api_broker_processor_lag_events")
                .Help("Events of the log the processor of this process has not read yet.")
                .Register(r)),
        commit_events(prometheus::BuildHistogram()
                          .Name("api_broker_store_commit_batch_events")
                          .Help("Events per store transaction (group commit), by writer.")
                          .Register(r)),
        commit_seconds(prometheus::BuildHistogram()
                           .Name("api_broker_store_commit_duration_seconds")
                           .Help("Seconds one store transaction took to commit, by writer.")
                           .Register(r)) {}

  Family<Counter>& submitted;
  Family<Counter>& finished;
  Family<Counter>& retried;
  Family<Counter>& attempts_started;
  Family<Counter>& attempts;
  Family<Histogram>& request_seconds;
  Family<Histogram>& attempt_seconds;
  Family<Gauge>& unfinished;
  Family<Gauge>& oldest_age;
  Family<Gauge>& calls_in_flight;
  Family<Gauge>& breaker_state;
  Family<Counter>& breaker_transitions;
  Family<Gauge>& last_event;
  Family<Gauge>& processor;
  Family<Gauge>& waiting_for_target;
  Family<Gauge>& lag;
  Family<Histogram>& commit_events;
  Family<Histogram>& commit_seconds;
};

Metrics::Metrics(std::size_t series_seconds)
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      series_(series_seconds) {
  // The figures a dashboard plots exist from the start, at 0.
  families_->submitted.Add({});
  families_->retried.Add({});
  for (const char* outcome : {"succeeded", "failed", "cancelled"}) {
    families_->finished.Add({{"outcome", outcome}});
    families_->request_seconds.Add({{"outcome", outcome}}, request_buckets());
  }
  families_->unfinished.Add({});
  families_->oldest_age.Add({});
  families_->last_event.Add({});
}

Metrics::~Metrics() = default;

std::string Metrics::target_label(std::string_view target) {
  if (auto it = targets_.find(target); it != targets_.end()) return *it;
  if (targets_.size() >= limits::metrics_targets_max) return "(other)";
  return *targets_.emplace(target).first;
}

void Metrics::observe(const events::Envelope& envelope) { observe(std::span(&envelope, 1)); }

void Metrics::observe(std::span<const events::Envelope> batch) {
  MutexLock lock(mutex_);
  bool folded = false;
  for (const events::Envelope& envelope : batch) folded |= fold(envelope);
  if (!folded) return;
  families_->last_event.Add({}).Set(static_cast<double>(events::to_int(last_)));
  set_unfinished_gauges();
}

bool Metrics::fold(const events::Envelope& envelope) {
  if (envelope.id <= last_) return false;
  last_ = envelope.id;
  std::visit(
      [&](const auto& event) API_BROKER_NO_THREAD_SAFETY_ANALYSIS {
        using T = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<T, events::Request>) {
          fold_request(envelope, event);
        } else if constexpr (std::is_same_v<T, events::ApiRequest>) {
          fold_attempt_start(envelope, event.attempt);
        } else if constexpr (std::is_same_v<T, events::ApiResponse>) {
          fold_attempt_end(envelope, event.attempt, "answered", status_class(event.status));
        } else if constexpr (std::is_same_v<T, events::ApiFailure>) {
          fold_attempt_end(envelope, event.attempt, "failed",
                           event.permanent     ? std::string("permanent")
                           : event.status == 0 ? std::string("connection")
                                               : status_class(event.status));
        } else if constexpr (std::is_same_v<T, events::ApiTimeout>) {
          fold_attempt_end(envelope, event.attempt, "timed_out", "timeout");
        } else if constexpr (std::is_same_v<T, events::RequestSucceeded>) {
          fold_terminal(envelope, "succeeded");
        } else if constexpr (std::is_same_v<T, events::RequestFailed>) {
          fold_terminal(envelope, is_cancellation(event.reason) ? "cancelled" : "failed");
        } else if constexpr (std::is_same_v<T, events::RequestRetried>) {
          fold_retried(envelope);
        } else if constexpr (std::is_same_v<T, events::BreakerOpened>) {
          fold_breaker(event.target, 2, "open");
        } else if constexpr (std::is_same_v<T, events::BreakerHalfOpened>) {
          fold_breaker(event.target, 1, "half_open");
        } else if constexpr (std::is_same_v<T, events::BreakerClosed>) {
          fold_breaker(event.target, 0, "closed");
        } else if constexpr (std::is_same_v<T, events::Configuration> ||
                             std::is_same_v<T, events::Simple> ||
                             std::is_same_v<T, events::Target> ||
                             std::is_same_v<T, events::RequestCancelled>) {
          // No figure: a cancel shows when its request-failed is read.
        } else {
          static_assert(always_false<T>, "every event class is either folded or ignored");
        }
      },
      envelope.event);
  return true;
}

void Metrics::fold_request(const events::Envelope& envelope, const events::Request& request) {
  families_->submitted.Add({}).Increment();
  series_.submitted(envelope.created);
  unfinished_.insert_or_assign(envelope.id, Unfinished{.requested_at = envelope.created,
                                                       .target = target_label(request.target)});
}

void Metrics::fold_attempt_start(const events::Envelope& envelope, std::uint32_t attempt) {
  auto it = unfinished_.find(envelope.causation_id);
  if (it == unfinished_.end()) return;  // an odd event: verify reports it
  families_->attempts_started.Add({{"target", it->second.target}}).Increment();
  if (!it->second.attempts.emplace(attempt, envelope.created).second) return;
  ++calls_in_flight_[it->second.target];
}

void Metrics::fold_attempt_end(const events::Envelope& envelope, std::uint32_t attempt,
                               std::string_view result, std::string_view kind) {
  auto it = unfinished_.find(envelope.causation_id);
  if (it == unfinished_.end()) return;
  auto started = it->second.attempts.find(attempt);
  if (started == it->second.attempts.end()) return;  // ended already: a late answer
  const std::string& target = it->second.target;
  families_->attempts
      .Add({{"target", target}, {"result", std::string(result)}, {"class", std::string(kind)}})
      .Increment();
  families_->attempt_seconds.Add({{"result", std::string(result)}}, attempt_buckets())
      .Observe(seconds_between(started->second, envelope.created));
  it->second.attempts.erase(started);
  --calls_in_flight_[target];
}

void Metrics::fold_terminal(const events::Envelope& envelope, std::string_view outcome) {
  auto it = unfinished_.find(envelope.causation_id);
  if (it == unfinished_.end()) return;  // a second terminal event: verify reports it
  const std::string label(outcome);
  families_->finished.Add({{"outcome", label}}).Increment();
  const Duration latency = envelope.created - it->second.requested_at;
  families_->request_seconds.Add({{"outcome", label}}, request_buckets())
      .Observe(seconds_between(it->second.requested_at, envelope.created));
  series_.finished(envelope.created, outcome == "succeeded", latency);
  calls_in_flight_[it->second.target] -= it->second.attempts.size();
  remember_finished(it->first, std::move(it->second.target));
  unfinished_.erase(it);
}

void Metrics::remember_finished(events::EventId id, std::string target) {
  const std::uint64_t key = events::to_int(id);
  if (finished_targets_.insert_or_assign(key, std::move(target)).second) {
    finished_order_.push_back(key);
  }
  while (finished_order_.size() > limits::metrics_finished_remembered_max) {
    finished_targets_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

void Metrics::fold_retried(const events::Envelope& envelope) {
  // Only a finished request is retried (the service checks it); an odd request-retried, or one
  // of a request finished longer ago than this fold remembers, leaves the figures as they are.
  auto it = finished_targets_.find(events::to_int(envelope.causation_id));
  if (it == finished_targets_.end() || unfinished_.contains(envelope.causation_id)) return;
  families_->retried.Add({}).Increment();
  unfinished_.insert_or_assign(envelope.causation_id,
                               Unfinished{.requested_at = envelope.created, .target = it->second});
}

void Metrics::fold_breaker(std::string_view target, double state, std::string_view to) {
  const std::string label = target_label(target);
  families_->breaker_state.Add({{"target", label}}).Set(state);
  families_->breaker_transitions.Add({{"target", label}, {"to", std::string(to)}}).Increment();
}

void Metrics::set_unfinished_gauges() {
  families_->unfinished.Add({}).Set(static_cast<double>(unfinished_.size()));
  for (auto& [target, calls] : calls_in_flight_) {
    families_->calls_in_flight.Add({{"target", target}}).Set(static_cast<double>(calls));
  }
  if (processor_position_) {
    const auto last = events::to_int(last_);
    const auto position = events::to_int(*processor_position_);
    families_->lag.Add({}).Set(last > position ? static_cast<double>(last - position) : 0.0);
  }
}

void Metrics::observe(const broker::ProcessorStats& stats) {
  MutexLock lock(mutex_);
  families_->processor.Add({{"state", "active"}}).Set(static_cast<double>(stats.active));
  families_->processor.Add({{"state", "parked"}}).Set(static_cast<double>(stats.parked));
  families_->waiting_for_target.Add({}).Set(static_cast<double>(stats.waiting_for_target));
  processor_position_ = stats.position;
  set_unfinished_gauges();
}

void Metrics::observe_commit(Writer writer, std::size_t events, Duration took) {
  const prometheus::Labels labels{{"writer", std::string(writer_name(writer))}};
  families_->commit_events.Add(labels, batch_buckets()).Observe(static_cast<double>(events));
  families_->commit_seconds.Add(labels, commit_buckets()).Observe(to_seconds(took));
}

std::string Metrics::scrape(TimePoint now) {
  {
    MutexLock lock(mutex_);
    // Ids grow with time: the lowest unfinished id is (almost always) the oldest request.
    double age = 0;
    for (const auto& [id, request] : unfinished_) {
      age = std::max(age, seconds_between(request.requested_at, now));
      break;
    }
    families_->oldest_age.Add({}).Set(age);
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::deque<SeriesPoint> Metrics::series(TimePoint now) const {
  MutexLock lock(mutex_);
  return series_.window(now);
}

events::EventId Metrics::last_observed() const {
  MutexLock lock(mutex_);
  return last_;
}

}  // namespace api_broker::service
