// Any log of one request, as odd as a writer can make it (attempts out of order, repeated or
// beyond the policy, answers before their attempt, events after the end, times going back, ids
// that do not increase): the state machine never asserts, keeps its bounds, decides at most one
// action and nothing once terminal, and is a function of the log (folding it twice gives the
// same state and decisions), so a restarted processor and verify see what the processor saw.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api_broker/assert.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/core/request_machine.hpp"
#include "api_broker/limits.hpp"

using namespace api_broker;

namespace {

std::uint32_t attempt(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint32_t>(0, 4)
                          : in.ConsumeIntegralInRange<std::uint32_t>(0, limits::retries_max);
}

events::Event make_event(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 8)) {
    case 0:
      return events::ApiRequest{attempt(in)};
    case 1:
      return events::ApiResponse{.attempt = attempt(in),
                                 .response = in.ConsumeRandomLengthString(16),
                                 .status = in.ConsumeIntegralInRange(0, 999)};
    case 2:
      return events::ApiFailure{
          .attempt = attempt(in),
          .failure = in.ConsumeRandomLengthString(600),
          .status = in.ConsumeIntegralInRange(0, 999),
          .retry_after = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(-10.0, 1e12)};
    case 3:
      return events::ApiTimeout{attempt(in)};
    case 4:
      return events::RequestSucceeded{.attempts = attempt(in), .attempt = attempt(in)};
    case 5:
      return events::RequestFailed{.attempts = attempt(in),
                                   .reason = in.ConsumeRandomLengthString(600)};
    case 6:
      return events::Simple{"x"};
    case 7:
      return events::Request{"another"};
    default:
      return events::Configuration{.retries = 0};
  }
}

core::Policy policy(FuzzedDataProvider& in) {
  const events::Configuration change{
      .retries = in.ConsumeIntegralInRange<std::int64_t>(-1, 6),
      .timeout = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 100.0),
      .backoff_initial = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 100.0),
      .backoff_multiplier = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(1.0, 10.0),
      .backoff_max = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 1000.0),
      .backoff_jitter = in.ConsumeBool() ? -1 : in.ConsumeProbability<double>(),
      .deadline = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 1000.0)};
  auto applied = core::apply(core::Policy{}, change);
  return applied ? *applied : core::Policy{};
}

void check_bounds(const core::RequestState& state) {
  API_BROKER_ASSERT(state.attempts.size() <= state.policy.retries + 1);
  API_BROKER_ASSERT(state.anomalies.size() <= limits::request_anomalies_max);
  for (const auto& a : state.attempts) {
    API_BROKER_ASSERT(a.failure.size() <= limits::failure_text_bytes_max);
  }
  if (state.terminal)
    API_BROKER_ASSERT(state.terminal->reason.size() <= limits::failure_text_bytes_max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const core::Policy rules = policy(in);
  const auto request_id = in.ConsumeIntegralInRange<std::uint64_t>(1, 1000);
  const TimePoint t0{Duration(in.ConsumeIntegralInRange<std::int64_t>(0, 4'000'000'000'000'000))};
  const events::Envelope request{
      .id = events::EventId{request_id}, .created = t0, .event = events::Request{"ping"}};

  std::vector<events::Envelope> log;
  std::uint64_t id = request_id;
  TimePoint at = t0;
  while (in.remaining_bytes() > 0 && log.size() < 64) {
    id = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? in.ConsumeIntegralInRange<std::uint64_t>(0, id)
                                                   : id + 1;
    at += Duration(in.ConsumeIntegralInRange<std::int64_t>(-1'000'000, 100'000'000));
    // evolve() REQUIRES the request's own events: the processor routes by causation_id.
    log.push_back(events::Envelope{.id = events::EventId{id},
                                   .created = at,
                                   .causation_id = events::EventId{request_id},
                                   .event = make_event(in)});
  }

  core::RequestState state = core::start(request, rules);
  check_bounds(state);
  std::vector<core::Actions> decisions;
  for (const auto& envelope : log) {
    state = core::evolve(std::move(state), envelope);
    check_bounds(state);
    const core::Actions actions = core::decide(state, envelope.created);
    API_BROKER_ASSERT(actions.size() <= 1);
    API_BROKER_ASSERT(core::decide(state, envelope.created) == actions);
    if (core::is_terminal(state)) API_BROKER_ASSERT(actions.empty());
    for (const auto& action : actions) (void)core::describe(action);
    (void)core::to_string(core::phase(state));
    decisions.push_back(actions);
  }
  (void)core::decide(state, at + std::chrono::hours(24 * 366));

  // Folding the same log again gives the same state and decisions.
  core::RequestState again = core::start(request, rules);
  for (std::size_t i = 0; i < log.size(); ++i) {
    again = core::evolve(std::move(again), log[i]);
    API_BROKER_ASSERT(core::decide(again, log[i].created) == decisions[i]);
  }
  API_BROKER_ASSERT(again == state);
  return 0;
}
