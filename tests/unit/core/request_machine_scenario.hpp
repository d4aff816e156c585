#pragma once
// The request machine's scenarios: given events / when time / then actions (STYLE.md §5).
// Time is a plain TimePoint: no clock, no sleeps.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api_broker/core/request_machine.hpp"
#include "api_broker/events/codec.hpp"

namespace api_broker::core::test {

using namespace std::chrono_literals;
using events::ApiRequest;
using events::ApiResponse;
using events::ApiTimeout;
using events::Request;
using events::RequestSucceeded;

inline const TimePoint t0{std::chrono::seconds{1'795'000'000}};  // 2026-11-18
inline constexpr events::EventId request_id{100};

// One event of a scenario's history, persisted at `created`.
struct Given {
  TimePoint created;
  events::Event event;
};
inline Given at(TimePoint created, events::Event event) { return Given{created, std::move(event)}; }

inline events::ApiFailure failure(std::uint32_t attempt, std::int32_t status, std::string text = "",
                                  double retry_after = -1) {
  events::ApiFailure event;
  event.attempt = attempt;
  event.status = status;
  event.failure = std::move(text);
  event.retry_after = retry_after;
  return event;
}

inline ApiResponse response(std::uint32_t attempt) {
  ApiResponse event;
  event.attempt = attempt;
  event.response = "gnip";
  return event;
}

inline events::RequestFailed request_failed(std::uint32_t attempts, std::string reason) {
  events::RequestFailed event;
  event.attempts = attempts;
  event.reason = std::move(reason);
  return event;
}

inline std::string show(const Actions& actions) {
  std::string text = "{";
  for (const Action& action : actions) text += (text.size() > 1 ? "; " : "") + describe(action);
  return text + "}";
}

// Given a request's events (the first is the request itself, id 100; the others get ids 101,
// 102, ... and point at it), when it is `now`, then decide() returns these actions; deciding
// again returns the same, and folding the history again gives the same state. Anomalies must
// be exactly those declared with anomalies() (none by default).
class Scenario {
 public:
  // `retry_on`: the request's target's rule (default: the prototype's).
  explicit Scenario(Policy policy, RetryRule retry_on = {})
      : policy_(policy), retry_on_(retry_on) {}

  Scenario& given(std::vector<Given> events) {
    for (Given& event : events) history_.push_back(std::move(event));
    state_ = fold();
    return *this;
  }
  Scenario& when(TimePoint now) {
    now_ = now;
    return *this;
  }
  Scenario& anomalies(std::vector<std::string> texts) {
    anomalies_ = std::move(texts);
    return *this;
  }
  Scenario& then(const Actions& expected) {
    const Actions actual = decide(state_, now_);
    EXPECT_TRUE(actual == expected) << "decide() at " << events::format_time(now_) << " returned "
                                    << show(actual) << ", expected " << show(expected);
    const Actions again = decide(state_, now_);
    EXPECT_TRUE(again == actual) << "deciding again returned " << show(again);
    EXPECT_TRUE(fold() == state_) << "folding the same events gave another state";
    std::vector<std::string> texts;
    for (const Anomaly& anomaly : state_.anomalies) texts.push_back(anomaly.text);
    EXPECT_EQ(texts, anomalies_);
    return *this;
  }
  const RequestState& state() const { return state_; }

 private:
  RequestState fold() const {
    EXPECT_FALSE(history_.empty());
    EXPECT_TRUE(std::holds_alternative<Request>(history_.front().event));
    RequestState state = start(envelope(0), policy_, retry_on_);
    for (std::size_t i = 1; i < history_.size(); ++i) state = evolve(std::move(state), envelope(i));
    return state;
  }
  events::Envelope envelope(std::size_t index) const {
    events::Envelope envelope;
    envelope.id = events::EventId{events::to_int(request_id) + index};
    envelope.created = history_[index].created;
    envelope.causation_id = index == 0 ? events::no_event : request_id;
    envelope.event = history_[index].event;
    return envelope;
  }

  Policy policy_;
  RetryRule retry_on_;
  std::vector<Given> history_;
  RequestState state_;
  TimePoint now_{};
  std::vector<std::string> anomalies_;
};

// Retries after 200ms, 400ms, 800ms ... without jitter, so times are exact.
inline Policy steady(Policy policy) {
  policy.backoff_jitter = 0;
  return policy;
}

inline const Given requested = at(t0, Request{.request = "ping"});

}  // namespace api_broker::core::test
