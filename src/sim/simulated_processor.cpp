#include "simulated_processor.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api_broker/assert.hpp"
#include "api_broker/broker/resume_point.hpp"

namespace api_broker::sim {

using namespace std::chrono_literals;

constexpr std::string_view lease_name = "processor";

std::chrono::milliseconds milliseconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

namespace {

broker::SteadyTime steady(TimePoint at) {
  return broker::SteadyTime(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(at.time_since_epoch()));
}

TimePoint simulated(broker::SteadyTime at) {
  return TimePoint(std::chrono::ceil<Duration>(at.time_since_epoch()));
}

}  // namespace

SimulatedProcessor::SimulatedProcessor(Scheduler& scheduler, SimulatedApi& api,
                                       store::MemoryStore& store, Random random, StoreFaults faults,
                                       broker::ProcessorOptions options,
                                       std::shared_ptr<spdlog::logger> log,
                                       SimulatedProcessorStats& stats, SimulatedLease lease,
                                       LeaseHooks hooks)
    : scheduler_(scheduler),
      api_(api),
      store_(store),
      random_(random),
      faults_(faults),
      options_(std::move(options)),
      log_(std::move(log)),
      stats_(stats),
      lease_(std::move(lease)),
      hooks_(std::move(hooks)) {}

// A crash: the same machine's standby sees the holder's pid gone and frees its lease at once.
// One that lost its lease does not hold it (or took it back only to find the epoch changed:
// then it keeps it until it expires, as the real worker does).
SimulatedProcessor::~SimulatedProcessor() {
  if (started_ && !lost_) (void)store_.release_lease(lease_name, lease_.owner);
}

Result<void> SimulatedProcessor::start() {
  waiting_since_ = scheduler_.now();
  auto holder = store_.acquire_lease(lease_name, lease_.owner, milliseconds(lease_.ttl));
  if (holder && holder->owner == lease_.owner) return begin(*holder, scheduler_.now());
  log_->info("{}: standby, the lease is held by another processor", lease_.owner);
  poll_lease();
  return {};
}

// A standby asks for the lease every third of its TTL.
void SimulatedProcessor::poll_lease() {
  guarded(
      scheduler_.now() + lease_.ttl / 3,
      [this] {
        const TimePoint sent = scheduler_.now();
        store_call([this, sent] { take_lease(sent); }, true);
      },
      true);
}

void SimulatedProcessor::take_lease(TimePoint sent) {
  auto holder = store_.acquire_lease(lease_name, lease_.owner, milliseconds(lease_.ttl));
  if (!holder || holder->owner != lease_.owner) {
    poll_lease();
    return;
  }
  if (auto begun = begin(*holder, sent); !begun) {
    stats_.errors.push_back(begun.error().message);
    return;
  }
  if (hooks_.took_over) hooks_.took_over(*this);
}

// The lease is taken: the processor reads the log from its checkpoint, as the real one does
// once it holds the lease, through the real store worker's decisions.
Result<void> SimulatedProcessor::begin(const store::LeaseHolder& holder, TimePoint sent) {
  auto resumed = broker::load_resume_point(store_, "processor", std::nullopt);
  if (!resumed) return fail(std::move(resumed).error());
  started_ = true;
  log_->info("{}: took the lease at epoch {}", lease_.owner, holder.epoch);
  core_ = std::make_unique<broker::ProcessorCore>(*this, options_, resumed->policy, log_,
                                                  resumed->targets);
  faulty_ = std::make_unique<FaultyStore>(store_, random_, faults_, stats_.store_faults);
  worker_ = std::make_unique<broker::StoreWorkerCore>(
      *faulty_, resumed->after,
      broker::StoreWorkerOptions{.lease_name = std::string(lease_name),
                                 .lease_owner = lease_.owner,
                                 .lease_epoch = holder.epoch,
                                 .lease_taken_at = steady(sent),
                                 .lease_ttl = milliseconds(lease_.ttl),
                                 .read_batch_max = faults_.read_limit},
      worker_callbacks());
  schedule_step(scheduler_.now(), false);
  return {};
}

// The worker's callbacks come last in its step: they reach the ProcessorCore at once.
broker::StoreWorkerCallbacks SimulatedProcessor::worker_callbacks() {
  return broker::StoreWorkerCallbacks{
      .on_events = [this](const std::vector<events::Envelope>& batch,
                          bool caught_up) { core_->on_events(batch, caught_up); },
      .on_loaded =
          [this](const std::vector<events::EventId>& asked,
                 const std::vector<events::Envelope>& loaded) { core_->on_loaded(asked, loaded); },
      .on_fatal = [this](const Error& error) { lost_lease(error); },
      .on_lease_renewed =
          [this] {
            lease_wanted_ = false;
            core_->on_lease_renewed();
          },
      .on_warning = [this](const std::string& line) { log_->warn("{}: {}", lease_.owner, line); },
  };
}

void SimulatedProcessor::lost_lease(const Error& error) {
  if (worker_->lease_loss() == broker::LeaseLoss::fenced_commit) {
    ++stats_.lost_fenced;
  } else {
    ++stats_.lost_renewing;
  }
  log_->warn("{}: lost the lease: {}", lease_.owner, error.message);
  lost_ = true;
  core_->on_lease_lost();
  if (hooks_.lost) hooks_.lost(*this);
}

bool SimulatedProcessor::lease_held() {
  const bool held = !lost_ && worker_ && worker_->lease_held(steady(scheduler_.now()));
  if (!held) {
    lease_wanted_ = true;
    ++stats_.held_back;
  }
  return held;
}

Scheduler::Handle SimulatedProcessor::guarded(TimePoint at, std::function<void()> task,
                                              bool background) {
  return scheduler_.at(
      at,
      [self = weak_from_this(), task = std::move(task), background]() mutable {
        const auto alive = self.lock();
        if (!alive || alive->lost_) return;  // crashed, or stopped for good
        if (alive->paused()) {               // resumes where it was
          alive->guarded(alive->paused_until_, std::move(task), background);
          return;
        }
        task();
      },
      background);
}

Duration SimulatedProcessor::store_latency() {
  return random_.chance(faults_.slow) ? random_.between(faults_.slow_low, faults_.slow_high)
                                      : random_.between(faults_.latency_low, faults_.latency_high);
}

Scheduler::Handle SimulatedProcessor::store_call(std::function<void()> task, bool background) {
  return guarded(scheduler_.now() + store_latency(), std::move(task), background);
}

// The worker's thread reads the clock at `decided_at` and its store call takes effect a store
// latency later; a pause in between defers the call, not the decision (a process stopped
// while its call is on the way).
void SimulatedProcessor::schedule_step(TimePoint decided_at, bool background) {
  API_BROKER_ASSERT(!worker_->done());
  if (step_pending_) scheduler_.cancel(step_task_);
  const std::uint64_t generation = ++step_generation_;
  step_pending_ = true;
  step_wakes_ = false;
  step_watches_log_ = false;
  step_task_ = guarded(
      decided_at + store_latency(),
      [this, generation, decided_at] {
        if (generation == step_generation_) run_step(decided_at);
      },
      background);
}

void SimulatedProcessor::wake_worker(bool log_grew) {
  if (!worker_ || worker_->done()) return;
  if (stepping_) {
    if (!log_grew) woken_while_stepping_ = true;
    return;
  }
  if (step_pending_ && !(step_wakes_ && (!log_grew || step_watches_log_))) return;
  schedule_step(scheduler_.now(), false);
}

// One step of the store worker, as its thread runs it; what it waits for decides the next.
void SimulatedProcessor::run_step(TimePoint decided_at) {
  API_BROKER_ASSERT(!stepping_);  // one worker thread: steps never nest
  API_BROKER_ASSERT(!lost_);      // guarded() runs nothing of a processor that lost its lease
  step_pending_ = false;
  stepping_ = true;
  woken_while_stepping_ = false;
  const broker::StoreWorkerNext next = worker_->step(steady(decided_at));
  stepping_ = false;
  observe();
  switch (next.kind) {
    case broker::StoreWorkerNext::Kind::done:
      return;
    case broker::StoreWorkerNext::Kind::go_on:
      schedule_step(scheduler_.now(), false);
      return;
    case broker::StoreWorkerNext::Kind::wait:
      if (woken_while_stepping_ && next.wake == broker::StoreWorkerNext::Wake::on_input) {
        schedule_step(scheduler_.now(), false);
        return;
      }
      // Waits with nothing pending are polls: they do not keep a run going.
      schedule_step(std::max(simulated(next.until), scheduler_.now()), !next.busy);
      step_wakes_ = next.wake == broker::StoreWorkerNext::Wake::on_input;
      step_watches_log_ = next.watch_log;
      return;
  }
}

void SimulatedProcessor::observe() {
  stats_.in_flight_max_seen = std::max<std::uint64_t>(stats_.in_flight_max_seen, calling_.size());
  stats_.calls_at_once_max_seen =
      std::max<std::uint64_t>(stats_.calls_at_once_max_seen, calls_.size());
}

void SimulatedProcessor::forget_call(std::map<std::uint64_t, Call>::iterator it) {
  if (--calling_[it->second.request] == 0) calling_.erase(it->second.request);
  calls_.erase(it);
}

void SimulatedProcessor::set_timer(events::EventId request, TimePoint at) {
  cancel_timer(request);
  const std::uint64_t generation = next_timer_++;
  const Scheduler::Handle handle = guarded(at, [this, request, generation] {
    const auto it = timers_.find(request);
    if (it == timers_.end() || it->second.generation != generation) return;  // replaced
    timers_.erase(it);
    core_->on_timer(request);
    observe();
  });
  timers_[request] = Timer{generation, handle};
}

void SimulatedProcessor::cancel_timer(events::EventId request) {
  const auto it = timers_.find(request);
  if (it == timers_.end()) return;
  scheduler_.cancel(it->second.handle);  // no effect if a pause deferred it: the generation
  timers_.erase(it);                     // tells then
}

void SimulatedProcessor::set_target_timer(std::string_view target, TimePoint at) {
  auto it = target_timers_.find(target);
  if (it == target_timers_.end()) it = target_timers_.emplace(std::string(target), Timer{}).first;
  scheduler_.cancel(it->second.handle);
  const std::uint64_t generation = next_timer_++;
  it->second =
      Timer{generation, guarded(at, [this, name = it->first, generation] {
              const auto timer = target_timers_.find(name);
              if (timer == target_timers_.end() || timer->second.generation != generation) {
                return;  // replaced
              }
              core_->on_target_timer(name);
              observe();
            })};
}

std::uint64_t SimulatedProcessor::call_api(const broker::ApiCall& call) {
  API_BROKER_ASSERT(!lost_);  // ProcessorCore sends nothing once it heard of the loss
  const std::uint64_t id = next_call_++;
  const Scheduler::Handle answering =
      api_.receive(call, [self = weak_from_this(), id, request = call.request,
                          attempt = call.attempt](Result<http::Response> answer) {
        const auto alive = self.lock();
        if (!alive || alive->lost_) return;  // crashed or stopped: nobody hears the answer
        alive->answered(id, request, attempt, std::move(answer));
      });
  calls_.emplace(id, Call{answering, call.request});
  ++calling_[call.request];
  observe();
  return id;
}

// An answer that reaches a paused processor is read when it resumes.
void SimulatedProcessor::answered(std::uint64_t id, events::EventId request, std::uint32_t attempt,
                                  Result<http::Response> answer) {
  const auto it = calls_.find(id);
  if (it == calls_.end()) return;
  if (paused()) {
    it->second.answer = guarded(paused_until_, [this, id, request, attempt, answer] {
      answered(id, request, attempt, answer);
    });
    return;
  }
  forget_call(it);
  core_->on_answer(request, attempt, std::move(answer));
  observe();
}

void SimulatedProcessor::cancel_call(std::uint64_t call) {
  const auto it = calls_.find(call);
  if (it == calls_.end()) return;
  scheduler_.cancel(it->second.answer);
  forget_call(it);
}

void SimulatedProcessor::append(std::vector<events::NewEvent> events) {
  for (const events::NewEvent& e : events) {
    if (std::holds_alternative<events::ApiRequest>(e.event)) {
      stats_.attempt_times[lease_.owner].push_back(scheduler_.now());
    }
  }
  worker_->append(std::move(events));
  wake_worker(false);
}

// As the real worker, a new checkpoint wakes nobody: it is saved at the next step.
void SimulatedProcessor::set_checkpoint(std::string value) {
  worker_->set_checkpoint(std::move(value));
}

void SimulatedProcessor::ack() {
  worker_->ack();
  wake_worker(false);
}

void SimulatedProcessor::load(std::vector<events::EventId> ids) {
  for (const events::EventId id : ids) stats_.parked.insert(events::to_int(id));
  worker_->load(std::move(ids));
  wake_worker(false);
}

}  // namespace api_broker::sim
