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

#include <spdlog/logger.h>

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
struct SimulatedProcessorStats {
  std::uint64_t store_faults = 0;
  std::uint64_t in_flight_max_seen = 0;  // most requests with a call in flight at once
  std::set<std::uint64_t> parked;        // requests that waited for a place
};

class SimulatedProcessor : public broker::ProcessorPorts,
                           public std::enable_shared_from_this<SimulatedProcessor> {
 public:
  SimulatedProcessor(Scheduler& scheduler, SimulatedApi& api, store::MemoryStore& store,
                     Random random, StoreFaults faults, broker::ProcessorOptions options,
                     std::shared_ptr<spdlog::logger> log, SimulatedProcessorStats& stats);

  // Loads the checkpoint and starts reading. Errors are the store's (corrupt checkpoint).
  Result<void> start();
  // Another writer appended: read on if idle.
  void appended_elsewhere() { schedule_read(); }

  // ProcessorPorts
  TimePoint now() override { return scheduler_.now(); }
  void set_timer(std::uint64_t request, TimePoint at) override;
  void cancel_timer(std::uint64_t request) override;
  std::uint64_t call_api(const broker::ApiCall& call) override;
  void cancel_call(std::uint64_t call) override;
  bool lease_held() override { return true; }
  void append(std::vector<events::NewEvent> events) override;
  void set_checkpoint(std::string value) override;
  void ack() override;
  void load(std::vector<events::EventId> ids) override;

 private:
  // Runs `task` after a store latency, unless this processor has crashed by then.
  Scheduler::Handle store_call(std::function<void()> task);
  Scheduler::Handle guarded(TimePoint at, std::function<void()> task);
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

  std::map<std::uint64_t, Scheduler::Handle> timers_;
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
