#pragma once
// Hand-driven ports for the processor's decision loop (ProcessorCore): the test sets the clock,
// commits what the core appended and hands it back, and answers calls itself.

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api_broker/broker/processor_core.hpp"

namespace api_broker::broker::test {

using namespace std::chrono_literals;
using events::Envelope;
using events::EventId;

inline const TimePoint t0{std::chrono::seconds(1'800'000'000)};

class FakePorts final : public ProcessorPorts {
 public:
  TimePoint now() override { return clock; }
  void set_timer(EventId request, TimePoint at) override { timers[events::to_int(request)] = at; }
  void cancel_timer(EventId request) override { timers.erase(events::to_int(request)); }
  void set_target_timer(std::string_view target, TimePoint at) override {
    target_timers[std::string(target)] = at;
  }
  std::uint64_t call_api(const ApiCall& call) override {
    calls.push_back({events::to_int(call.request), call.attempt});
    return calls.size();
  }
  void cancel_call(std::uint64_t call) override { cancelled.push_back(call); }
  bool lease_held() override { return lease; }
  void append(std::vector<events::NewEvent> batch) override {
    for (auto& e : batch) appended.push_back(std::move(e));
  }
  void set_checkpoint(std::string value) override { checkpoint = std::move(value); }
  void ack() override { ++acks; }
  void load(std::vector<EventId> ids) override {
    for (const EventId id : ids) loads.push_back(events::to_int(id));
  }

  // The appended events, committed as the store would: ids after `last`, created now.
  std::vector<Envelope> commit() {
    std::vector<Envelope> out;
    for (auto& e : appended) {
      out.push_back(Envelope{.id = EventId{++last},
                             .created = clock,
                             .causation_id = e.causation_id,
                             .external_uuid = e.external_uuid,
                             .event = std::move(e.event)});
    }
    appended.clear();
    log.insert(log.end(), out.begin(), out.end());
    return out;
  }
  // Commits what was appended and hands it back to `core` (caught up), until nothing more is
  // appended; returns the class names committed, in order.
  std::vector<std::string> settle(ProcessorCore& core) {
    std::vector<std::string> classes;
    while (!appended.empty()) {
      for (const auto& e : appended) classes.emplace_back(events::class_name(e.event));
      core.on_events(commit(), true);
    }
    return classes;
  }
  Envelope request() {
    log.push_back(
        Envelope{.id = EventId{++last}, .created = clock, .event = events::Request{"body"}});
    return log.back();
  }
  // An event appended by someone else (the HTTP service, the CLI) for `request`.
  Envelope external(std::uint64_t request, events::Event event) {
    log.push_back(Envelope{.id = EventId{++last},
                           .created = clock,
                           .causation_id = EventId{request},
                           .event = std::move(event)});
    return log.back();
  }
  // The log's events after `after`.
  std::vector<Envelope> read_after(std::uint64_t after) const {
    std::vector<Envelope> out;
    for (const Envelope& e : log) {
      if (events::to_int(e.id) > after) out.push_back(e);
    }
    return out;
  }

  TimePoint clock = t0;
  bool lease = true;
  std::uint64_t last = 0;
  std::map<std::uint64_t, TimePoint> timers;
  std::map<std::string, TimePoint> target_timers;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> calls;
  std::vector<std::uint64_t> cancelled;
  std::vector<events::NewEvent> appended;
  std::vector<std::uint64_t> loads;
  int acks = 0;
  std::string checkpoint;
  std::vector<Envelope> log;  // every event committed or read, in id order
};

inline std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_st>());
}

// `retries` retries, 1 s per attempt, a constant `backoff` without jitter.
inline core::Policy policy(std::uint32_t retries, Duration backoff = 0s) {
  core::Policy p;
  p.retries = retries;
  p.attempt_timeout = 1s;
  p.backoff_initial = backoff;
  p.backoff_multiplier = 1;
  p.backoff_jitter = 0;
  return p;
}

template <typename T>
bool holds(const events::NewEvent& e) {
  return std::holds_alternative<T>(e.event);
}

}  // namespace api_broker::broker::test
