#pragma once
// One run of the processor in a simulated world, from start to crash: a ProcessorCore wired
// to the simulated clock, the simulated API, and a model of the store worker over the
// in-memory store that injects store faults (commits that fail or are slow, failed reads,
// checkpoint saves and loads). A crash is the destruction of this object: its uncommitted
// events, timers and calls vanish with it; whatever it committed stays in the store.
//
// The store worker model keeps the real worker's contract (store_worker.hpp): group commits
// of everything queued, retried until they succeed; reads of at most `read_limit` events after
// the position, the next only after ack(); the checkpoint saved at most every interval.
//
// Like the real processor it acts only under the "processor" lease: start() takes it, or
// waits as a standby, polling every ttl/3, until it can; it renews it every ttl/3 and knows it
// held until (renewal sent) + ttl; it commits only fenced. A fenced commit, or a renewal that
// finds another owner or epoch, means the lease is lost: ProcessorCore::on_lease_lost(), and
// nothing more of this processor runs. A pause (pause()) models a SIGSTOP'd process: every
// task of this processor due before its end (timers, store calls, API answers) runs at its
// end instead, with the state kept. Destroying a processor that holds its lease releases it:
// a crash is seen at once by the same machine's standby.

#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api_broker/broker/processor_core.hpp"
#include "api_broker/store/memory_store.hpp"
#include "random.hpp"
#include "scheduler.hpp"
#include "simulated_api.hpp"

namespace api_broker::sim {

// The store's misbehaviour in one run; drawn from the seed by draw_store_faults().
struct StoreFaults {
  double commit_fails = 0;  // chance that a commit fails (it is retried, as the worker does)
  double commit_unacknowledged = 0;  // chance that a commit succeeds but reports a failure
  double read_fails = 0;
  double save_fails = 0;                   // checkpoint saves
  double load_fails = 0;                   // reading parked requests back
  Duration latency_low{}, latency_high{};  // of each store call
  double slow = 0;                         // chance of a latency in [slow_low, slow_high]
  Duration slow_low{}, slow_high{};
  std::size_t read_limit = 512;  // events per read
};

StoreFaults draw_store_faults(Random& random);

// What the runs of the processor did, over crashes, for the report and the checks.
class SimulatedProcessor;

struct SimulatedProcessorStats {
  std::uint64_t store_faults = 0;
  std::uint64_t in_flight_max_seen = 0;  // most requests with a call in flight at once
  std::set<std::uint64_t> parked;        // requests that waited for a place
  std::vector<std::string> errors;       // a processor that took the lease could not start
  std::uint64_t lost_fenced = 0;         // processors that found out by a fenced commit
  std::uint64_t lost_renewing = 0;       // ... by a renewal
  std::uint64_t held_back = 0;           // times lease_held() said no
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
    if (started_ && !lost_) schedule_read();
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
  void set_timer(std::uint64_t request, TimePoint at) override;
  void cancel_timer(std::uint64_t request) override;
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
  void schedule_renewal(TimePoint at);
  void renew(TimePoint sent);
  void lose(const std::string& why);
  void answered(std::uint64_t id, std::uint64_t request, std::uint32_t attempt,
                Result<http::Response> answer);
  void commit();
  void schedule_read();
  void read();
  void save_checkpoint();
  void load_now();
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
  std::uint64_t epoch_ = 0;
  TimePoint lease_held_until_{};
  bool lease_wanted_ = false;  // lease_held() said no since the last renewal
  TimePoint paused_until_{};

  struct Timer {
    std::uint64_t generation;  // a timer deferred by a pause runs only if still this one
    Scheduler::Handle handle;
  };
  std::map<std::uint64_t, Timer> timers_;
  std::uint64_t next_timer_ = 1;
  struct Call {
    Scheduler::Handle answer;
    std::uint64_t request;
  };
  std::map<std::uint64_t, Call> calls_;
  std::map<std::uint64_t, std::size_t> calling_;  // request -> its calls in flight
  void forget_call(std::map<std::uint64_t, Call>::iterator it);
  std::uint64_t next_call_ = 1;

  std::vector<events::NewEvent> queue_;
  std::vector<events::NewEvent> committing_;  // the batch being committed, kept until it is
  bool uncertain_ = false;  // its last commit reported a failure that may not be one
  bool committed_meanwhile(const events::NewEvent& first);
  bool commit_scheduled_ = false;
  Duration commit_retry_{};
  events::EventId position_{};
  bool awaiting_ack_ = false;
  bool caught_up_told_ = false;
  bool read_scheduled_ = false;
  std::string checkpoint_;
  std::string checkpoint_saved_;
  bool save_scheduled_ = false;
  std::vector<events::EventId> to_load_;
  bool load_scheduled_ = false;
};

}  // namespace api_broker::sim
