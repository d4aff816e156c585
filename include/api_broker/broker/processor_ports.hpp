#pragma once
// What the processor's decision loop (ProcessorCore) needs from the world: a clock with
// timers, a way to call the API, and the store worker. The real processor implements these
// with Boost.Asio, the Beast HTTP client and a StoreWorker thread; the simulator implements
// them with a simulated clock, a seeded simulated API and an in-memory store with injected
// faults. Every answer comes back as a call on the ProcessorCore, on the same thread, never
// from inside the port's own method.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/broker/call_builder.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/time.hpp"

namespace api_broker::broker {

// One HTTP call of one attempt: `plan`'s method to its endpoint and path (POST <api>/api for a
// plain request) with `body`, the plan's headers (secret references resolved by the port when
// it sends: resolve_headers() in src/broker/secrets.hpp) and content type, the Idempotency-Key
// header (the same for every attempt of a request) and Api-Broker-Attempt (`attempt`,
// 0-based), so that the API can tell a retry from a first call. `plan->target` names the
// target, if any.
struct ApiCall {
  events::EventId request{};  // the request event
  std::uint32_t attempt = 0;
  std::string_view body;
  std::string_view idempotency_key;
  std::chrono::milliseconds limit{0};  // the whole call fails after this; 0 = no bound
  // Never null from ProcessorCore; valid during call_api() only (copy what is kept).
  const CallPlan* plan = nullptr;
};

class ProcessorPorts {
 public:
  virtual ~ProcessorPorts() = default;

  // The clock the decisions are taken on (the same clock as the events' created times).
  virtual TimePoint now() = 0;
  // Calls ProcessorCore::on_timer(request) at `at` (or at once if it has passed). Replaces
  // the request's previous timer.
  virtual void set_timer(events::EventId request, TimePoint at) = 0;
  virtual void cancel_timer(events::EventId request) = 0;
  // Calls ProcessorCore::on_target_timer(target) at `at` (or at once if it has passed), for
  // the attempts of a target that wait for a token or the breaker's probe. Replaces that
  // target's previous timer.
  virtual void set_target_timer(std::string_view target, TimePoint at) = 0;

  // Whether the processor is known to hold its lease right now. A call goes out only then;
  // otherwise it waits for ProcessorCore::on_lease_renewed() (or is dropped by
  // on_lease_lost()), so a processor that was paused past its lease sends nothing.
  virtual bool lease_held() = 0;

  // Starts the call; its result comes back through ProcessorCore::on_answer. Returns a handle
  // for cancel_call (after which the answer is dropped or reported as Errc::cancelled).
  virtual std::uint64_t call_api(const ApiCall& call) = 0;
  virtual void cancel_call(std::uint64_t call) = 0;

  // The store worker: queues events for the next group commit (committed in this order,
  // retried until the store takes them)...
  virtual void append(std::vector<events::NewEvent> events) = 0;
  // ...remembers the checkpoint to save...
  virtual void set_checkpoint(std::string value) = 0;
  // ...reads on after the batch last handed to ProcessorCore::on_events...
  virtual void ack() = 0;
  // ...and reads these (parked) requests back, to ProcessorCore::on_loaded.
  virtual void load(std::vector<events::EventId> ids) = 0;
};

}  // namespace api_broker::broker
