#pragma once
// The processor's decision loop, without any I/O of its own: it folds the events the store
// worker reads back into one request state machine per request in flight, asks the machine
// what is due, and performs it through ProcessorPorts (append api-request and, once that is
// read back, call the API; arm timers; append answers, failures, timeouts and the terminal
// event). Single-threaded: every method runs on the thread the ports answer on.
//
// Rules it keeps, whatever the ports do:
//   - it decides again on a request only after reading back everything it appended for it
//     (its decisions and the answers it received), and only
//     once the reader has caught up with the log (so a restarted processor sees a request's
//     whole history before acting);
//   - it calls the API for an attempt only after reading back that attempt's api-request,
//     and only while the lease is known to be held (ProcessorPorts::lease_held()); a call due
//     meanwhile waits for the next renewal, and none goes out after the lease is lost;
//   - an attempt started by an earlier run and not launched by this one is recorded as
//     api-timeout;
//   - once it decided a request's terminal event, it cancels the request's calls and records
//     no answer that still comes;
//   - memory and calls are bounded: beyond requests_in_flight_max, requests that have not
//     started wait, parked (an id, a shared policy and shared targets), and are loaded back when a
//     place frees. Until the first catch-up every unfinished request is folded (its history may
//     follow); the newest of those without attempts are parked then;
//   - a request-cancelled ends the request through the state machine (its calls are cancelled,
//     an attempt it decided before reading the cancel is not sent); one for a parked request is
//     kept beside it and folded when it is loaded;
//   - once drain() is called it starts no new attempt, but the calls in flight (and those whose
//     api-request it appended) go on, and their answers, timeouts and the terminal events
//     they imply are recorded; drain_over() says when nothing is left to record (or the
//     drain's time is up), and the runner stops then;
//   - a request-retried for a request it does not hold (dropped at its terminal event, or
//     finished before the resume point) pauses the reading: the request is loaded, its round
//     started with core::start_round() under the policy and targets in force at the
//     request-retried, and the reading goes on. Such a request keeps the checkpoint before its
//     request-retried (not before the request), so a restart reads the request-retried again
//     and does the same.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api_broker/broker/processor_options.hpp"
#include "api_broker/broker/processor_ports.hpp"
#include "api_broker/broker/target_gate.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/core/request_machine.hpp"
#include "api_broker/http/response.hpp"

namespace spdlog {
class logger;  // the log a core writes to: spdlog's, given by its runner
}  // namespace spdlog

namespace api_broker::broker {

class ProcessorCore {
 public:
  // `policy` and `targets`: in force at the resume point (the checkpoint's); null targets:
  // none defined.
  ProcessorCore(ProcessorPorts& ports, const ProcessorOptions& options, core::Policy policy,
                std::shared_ptr<spdlog::logger> log,
                std::shared_ptr<const Targets> targets = nullptr);

  // A batch read from the log, in id order. `caught_up`: the read reached the log's end.
  void on_events(const std::vector<events::Envelope>& batch, bool caught_up);
  // Parked requests read back (`loaded` those of `asked` that could be read).
  void on_loaded(const std::vector<events::EventId>& asked,
                 const std::vector<events::Envelope>& loaded);
  // The answer (or failure) of the call of `attempt` of `request`.
  void on_answer(events::EventId request, std::uint32_t attempt, Result<http::Response> answer);
  // A timer set with ProcessorPorts::set_timer fired.
  void on_timer(events::EventId request);
  // A timer set with ProcessorPorts::set_target_timer fired.
  void on_target_timer(std::string_view target);
  // Cancels every timer and call; decides nothing more.
  void shutdown();
  // A stop was asked for: from now on no attempt starts; the calls in flight get until
  // now + `timeout` to answer and be recorded. Logs how many there are.
  void drain(Duration timeout);
  // Draining, and nothing is left to record (every call answered, every append read back)
  // or its time is up: logs how it ended and shuts down (once). The runner stops then.
  [[nodiscard]] bool drain_over();
  [[nodiscard]] bool draining() const { return drain_until_.has_value(); }
  // Calls out (or held back for the lease, or whose api-request is not read back yet).
  [[nodiscard]] std::size_t calls_in_flight() const;
  // The lease was renewed: the calls held back while it was not known to be held go out.
  void on_lease_renewed();
  // Another processor took the lease over: as shutdown(), and no call goes out any more.
  void on_lease_lost();

  [[nodiscard]] ProcessorStats stats() const;

 private:
  // What the processor appended for a request and waits to read back before deciding again.
  struct Pending {
    std::size_t event_index;  // index in events::Event
    std::uint32_t attempt;
  };
  struct Active {
    core::RequestState state;
    std::string body;                        // what to send
    std::shared_ptr<const CallPlan> call;    // where and how (shared by plain requests)
    std::shared_ptr<const Targets> targets;  // in force when it arrived, for the checkpoint
    std::string idempotency_key;             // the same for every attempt
    std::string target;                      // whose limits gate its attempts ("" = the default)
    std::optional<Pending> pending;
    std::uint32_t unread_answers = 0;  // api-response/-failure appended, not read back yet
    std::map<std::uint32_t, std::uint64_t> calls;  // attempt -> call in flight
    std::optional<std::uint32_t> held_back;        // an attempt to launch once the lease is renewed
    std::optional<TimePoint> timer_at;
    // Where a restart must read from to hold it again: the request, or the request-retried
    // that started its round (the policy and targets above are those in force there).
    events::EventId since{};
    std::shared_ptr<const events::Envelope> retried;  // the request-retried of its round, if any
  };
  // What a request keeps of the log before it: the policy and the targets in force.
  struct InForce {
    std::shared_ptr<const core::Policy> policy;
    std::shared_ptr<const Targets> targets;
  };
  // A request-retried read for a request not held: the request is being loaded.
  struct Round {
    events::Envelope retried;
    InForce in_force;
  };
  // A request waiting for a place: 56 bytes. A round parked (`retried`: its request-retried)
  // starts when it is loaded, under what was in force at the request-retried.
  struct Parked {
    events::EventId id;
    InForce in_force;
    std::shared_ptr<const events::Envelope> retried{};
    // Where a restart must read from to find it again.
    [[nodiscard]] events::EventId position() const { return retried ? retried->id : id; }
  };

  void fold(const events::Envelope& envelope);
  // The debug line of an event read, with its ids as log fields (LogFields).
  void log_read(const events::Envelope& envelope);
  // Folds events of the batch being read from `next` on, unless a round pauses it.
  void fold_batch(std::size_t next);
  // A request-cancelled or request-retried for a request that is not active.
  void fold_not_held(const events::Envelope& envelope);
  void start_round(const events::Envelope& request, const events::Request& event,
                   const Round& round);
  void fold_configuration(const events::Envelope& envelope,
                          const events::Configuration& configuration);
  void fold_target(const events::Envelope& envelope, const events::Target& target);
  void admit(const events::Envelope& envelope, const events::Request& request,
             const InForce& in_force);
  void hold(events::EventId id, Active active);
  void fail_at_once(events::EventId id, Active& active, std::uint32_t attempt,
                    const std::string& reason);
  void finish(std::map<events::EventId, Active>::iterator it, const events::Event& terminal);
  [[nodiscard]] std::size_t in_flight() const {
    return active_.size() + loading_.size() + (round_ ? 1 : 0);
  }
  void park_beyond_bound();
  void unpark();
  void append(events::EventId id, Active& active, events::Event event, bool decision);
  void step(events::EventId id);
  void arm(events::EventId id, Active& active, TimePoint at);
  void launch(events::EventId id, Active& active, std::uint32_t attempt);
  void report_unreachable(const std::string& where, const std::string& message);
  void start_attempt(events::EventId id, Active& active, std::uint32_t attempt);
  void record_timeout(events::EventId id, Active& active, std::uint32_t attempt);
  void end_calls(events::EventId id, Active& active);
  void append_answer(events::EventId request, std::uint32_t attempt, Result<http::Response> answer);
  void publish_checkpoint(events::EventId last);

  ProcessorPorts& ports_;
  ProcessorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const core::Policy> policy_;  // in force at the read position
  std::shared_ptr<const Targets> targets_;      // in force at the read position
  CallRules call_rules_;                        // from options_
  std::shared_ptr<const CallPlan> plain_call_;  // shared by every plain request
  std::map<events::EventId, Active> active_;    // ordered: begin() is the oldest
  std::deque<Parked> parked_;
  std::map<events::EventId, Parked> loading_;  // parked, being read
  // request-cancelled of parked or loading requests, folded when they are admitted.
  std::map<events::EventId, events::Envelope> parked_cancels_;
  std::optional<Round> round_;           // the round being loaded: reading is paused meanwhile
  std::vector<events::Envelope> batch_;  // the batch being folded, and how far
  std::size_t batch_next_ = 0;
  bool batch_caught_up_ = false;
  std::set<std::pair<events::EventId, events::EventId>> since_;  // (since, id) of every active
  bool caught_up_once_ = false;
  std::set<events::EventId> dirty_;  // touched since the last decisions
  ProcessorStats stats_;
  bool stopping_ = false;
  bool lease_lost_ = false;
  std::optional<TimePoint> drain_until_;  // set by drain()
  std::set<events::EventId> held_back_;   // requests with an Active::held_back attempt
  TargetGate gate_;                       // per-target calls at once, rate and breaker
  std::optional<TimePoint> unreachable_reported_at_;
  std::uint64_t unreachable_since_report_ = 0;
};

}  // namespace api_broker::broker
