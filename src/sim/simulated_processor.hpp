#pragma once
// One run of the processor in a simulated world, from start to crash: a ProcessorCore wired
// to the simulated clock and the simulated API, and the real store worker's decisions
// (StoreWorkerCore) stepped on simulated time over the in-memory store with injected faults
// (FaultyStore). Each step of the worker takes one store latency after it read the clock. A crash
// is the destruction of this object: its uncommitted events, timers and calls vanish with it;
// whatever it committed stays in the store.
//
// Like the real processor it acts only under the "processor" lease: start() takes it, or
// waits as a standby, polling every ttl/3, until it can; then the store worker renews it and
// commits only fenced. A fenced commit, or a renewal that finds another owner or epoch, means
// the lease is lost: ProcessorCore::on_lease_lost(), and nothing more of this processor runs.
// A pause (pause()) models a SIGSTOP'd process: every task of this processor due before its
// end (timers, store calls, API answers) runs at its end instead, with the state kept.
// Destroying a processor that holds its lease releases it: a crash is seen at once by the same
// machine's standby.

#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api_broker/broker/processor_core.hpp"
#include "api_broker/broker/store_worker_core.hpp"
#include "api_broker/store/memory_store.hpp"
#include "faulty_store.hpp"
#include "random.hpp"
#include "scheduler.hpp"
#include "simulated_api.hpp"

namespace api_broker::sim {

// What the runs of the processor did, over crashes, for the report and the checks.
class SimulatedProcessor;

struct SimulatedProcessorStats {
  std::uint64_t store_faults = 0;
  std::uint64_t in_flight_max_seen = 0;      // most requests with a call in flight at once
  std::set<std::uint64_t> parked;            // requests that waited for a place
  std::vector<std::string> errors;           // a processor that took the lease could not start
  std::uint64_t lost_fenced = 0;             // processors that found out by a fenced commit
  std::uint64_t lost_renewing = 0;           // ... by a renewal
  std::uint64_t held_back = 0;               // times lease_held() said no
  std::uint64_t calls_at_once_max_seen = 0;  // most calls of one processor out at once
  // When each processor (by lease owner) appended an api-request: when its target's gate let
  // the attempt go, and took a token. For the rate check.
  std::map<std::string, std::vector<TimePoint>> attempt_times;
};

// The lease of one processor: its owner name (unique per boot) and TTL.
struct SimulatedLease {
  std::string owner;
  Duration ttl{};
};

// What a processor tells the simulation about its lease.
struct LeaseHooks {
  // It took the lease after waiting for it as a standby.
  std::function<void(SimulatedProcessor&)> took_over;
  // It found out it lost the lease, and stopped.
  std::function<void(SimulatedProcessor&)> lost;
};

class SimulatedProcessor : public broker::ProcessorPorts,
                           public std::enable_shared_from_this<SimulatedProcessor> {
 public:
  SimulatedProcessor(Scheduler& scheduler, SimulatedApi& api, store::MemoryStore& store,
                     Random random, StoreFaults faults, broker::ProcessorOptions options,
                     std::shared_ptr<spdlog::logger> log, SimulatedProcessorStats& stats,
                     SimulatedLease lease, LeaseHooks hooks = {});
  ~SimulatedProcessor() override;
  SimulatedProcessor(const SimulatedProcessor&) = delete;
  SimulatedProcessor& operator=(const SimulatedProcessor&) = delete;

  // Takes the lease, loads the checkpoint and starts reading; or, if another owner holds the
  // lease, waits for it as a standby. Errors are the store's (corrupt checkpoint).
  Result<void> start();
  // Another writer appended: read on if idle.
  void appended_elsewhere() {
    if (started_ && !lost_) wake_worker(true);
  }
  // Stops every task of this processor until `until` (SIGSTOP, then SIGCONT).
  void pause(TimePoint until) { paused_until_ = until; }

  bool started() const { return started_; }  // took the lease
  bool lost() const { return lost_; }
  bool paused() const { return scheduler_.now() < paused_until_; }
  const std::string& owner() const { return lease_.owner; }
  TimePoint waiting_since() const { return waiting_since_; }
  // Whether the run must go on for this processor's sake even with only background tasks
  // left: it waits for the lease, or a call was held back until the lease is renewed.
  bool wants_lease() const { return !lost_ && (!started_ || lease_wanted_); }

  // ProcessorPorts
  TimePoint now() override { return scheduler_.now(); }
  void set_timer(events::EventId request, TimePoint at) override;
  void cancel_timer(events::EventId request) override;
  void set_target_timer(std::string_view target, TimePoint at) override;
  std::uint64_t call_api(const broker::ApiCall& call) override;
  void cancel_call(std::uint64_t call) override;
  bool lease_held() override;
  void append(std::vector<events::NewEvent> events) override;
  void set_checkpoint(std::string value) override;
  void ack() override;
  void load(std::vector<events::EventId> ids) override;

 private:
  // Runs `task` after a store latency, unless this processor has crashed by then.
  Scheduler::Handle store_call(std::function<void()> task, bool background = false);
  // Runs `task` at `at`, unless this processor has crashed or lost its lease by then; at the
  // end of a pause if it is paused then.
  Scheduler::Handle guarded(TimePoint at, std::function<void()> task, bool background = false);
  void poll_lease();
  void take_lease(TimePoint sent);
  Result<void> begin(const store::LeaseHolder& holder, TimePoint sent);
  broker::StoreWorkerCallbacks worker_callbacks();
  void lost_lease(const Error& error);
  void answered(std::uint64_t id, events::EventId request, std::uint32_t attempt,
                Result<http::Response> answer);
  Duration store_latency();
  // The store worker's next step, decided at `decided_at`, replacing the one scheduled.
  void schedule_step(TimePoint decided_at, bool background);
  // An input came (or, `log_grew`, another writer appended): a worker waiting for one steps
  // after a store latency.
  void wake_worker(bool log_grew);
  void run_step(TimePoint decided_at);
  void observe();

  Scheduler& scheduler_;
  SimulatedApi& api_;
  store::MemoryStore& store_;
  Random random_;
  StoreFaults faults_;
  broker::ProcessorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<broker::ProcessorCore> core_;
  SimulatedProcessorStats& stats_;
  SimulatedLease lease_;
  LeaseHooks hooks_;
  TimePoint waiting_since_{};
  bool started_ = false;
  bool lost_ = false;
  bool lease_wanted_ = false;  // lease_held() said no since the last renewal
  TimePoint paused_until_{};

  struct Timer {
    std::uint64_t generation;  // a timer deferred by a pause runs only if still this one
    Scheduler::Handle handle;
  };
  std::map<events::EventId, Timer> timers_;
  std::map<std::string, Timer, std::less<>> target_timers_;
  std::uint64_t next_timer_ = 1;
  struct Call {
    Scheduler::Handle answer;
    events::EventId request;
  };
  std::map<std::uint64_t, Call> calls_;
  std::map<events::EventId, std::size_t> calling_;  // request -> its calls in flight
  void forget_call(std::map<std::uint64_t, Call>::iterator it);
  std::uint64_t next_call_ = 1;

  std::unique_ptr<FaultyStore> faulty_;              // the store as the worker sees it
  std::unique_ptr<broker::StoreWorkerCore> worker_;  // once the lease is taken
  std::uint64_t step_generation_ = 0;  // a step deferred by a pause runs only if still this one
  Scheduler::Handle step_task_{};
  bool step_pending_ = false;
  bool step_wakes_ = false;        // the pending step ends a wait that an input cuts short
  bool step_watches_log_ = false;  // ... and that another writer's append cuts short
  bool stepping_ = false;          // inside StoreWorkerCore::step()
  bool woken_while_stepping_ = false;
};

}  // namespace api_broker::sim
