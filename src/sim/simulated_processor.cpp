#include "simulated_processor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "api_broker/broker/resume_point.hpp"

namespace api_broker::sim {

using namespace std::chrono_literals;

constexpr std::string_view lease_name = "processor";

std::chrono::milliseconds milliseconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

StoreFaults draw_store_faults(Random& random) {
  StoreFaults f;
  const bool faulty = random.chance(0.7);
  f.commit_fails = faulty ? random.unit() * 0.1 : 0.0;
  f.commit_unacknowledged = faulty ? random.unit() * 0.05 : 0.0;
  f.read_fails = faulty ? random.unit() * 0.05 : 0.0;
  f.save_fails = faulty ? random.unit() * 0.2 : 0.0;
  f.load_fails = faulty ? random.unit() * 0.2 : 0.0;
  f.latency_low = random.between(Duration(20), Duration(500));
  f.latency_high = f.latency_low + random.between(Duration(0), Duration(3ms));
  f.slow = faulty ? random.unit() * 0.02 : 0.0;
  f.slow_low = random.between(Duration(10ms), Duration(200ms));
  f.slow_high = f.slow_low + random.between(Duration(0), Duration(800ms));
  f.read_limit = random.chance(0.3) ? random.between(1, 8) : 512;
  return f;
}

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
// once it holds the lease.
Result<void> SimulatedProcessor::begin(const store::LeaseHolder& holder, TimePoint sent) {
  auto resumed = broker::load_resume_point(store_, "processor", std::nullopt);
  if (!resumed) return fail(std::move(resumed).error());
  started_ = true;
  epoch_ = holder.epoch;
  lease_held_until_ = sent + lease_.ttl;
  log_->info("{}: took the lease at epoch {}", lease_.owner, epoch_);
  core_ = std::make_unique<broker::ProcessorCore>(*this, options_, resumed->policy, log_);
  position_ = resumed->after;
  schedule_read();
  schedule_renewal(sent + lease_.ttl / 3);
  return {};
}

void SimulatedProcessor::schedule_renewal(TimePoint at) {
  guarded(
      at,
      [this] {
        const TimePoint sent = scheduler_.now();
        store_call([this, sent] { renew(sent); }, true);
      },
      true);
}

// As the store worker: a renewal that fails is tried again soon; one that finds another owner
// or another epoch (the lease changed hands meanwhile, even if it came back) means it is lost.
void SimulatedProcessor::renew(TimePoint sent) {
  auto holder = random_.chance(faults_.commit_fails)
                    ? Result<store::LeaseHolder>(fail(Errc::unavailable, "injected fault"))
                    : store_.acquire_lease(lease_name, lease_.owner, milliseconds(lease_.ttl));
  if (!holder) {
    ++stats_.store_faults;
    schedule_renewal(scheduler_.now() + std::min<Duration>(lease_.ttl / 3, 200ms));
    return;
  }
  if (holder->owner != lease_.owner || holder->epoch != epoch_) {
    ++stats_.lost_renewing;
    // Retaken by this renewal after a successor freed it: given back, so that the next
    // processor need not wait a TTL for it (as the store worker does).
    if (holder->owner == lease_.owner) (void)store_.release_lease(lease_name, lease_.owner);
    lose(fmt::format("the lease is held by '{}' at epoch {}", holder->owner, holder->epoch));
    return;
  }
  lease_held_until_ = sent + lease_.ttl;
  lease_wanted_ = false;
  core_->on_lease_renewed();
  observe();
  schedule_renewal(std::max(scheduler_.now(), sent + lease_.ttl / 3));
}

void SimulatedProcessor::lose(const std::string& why) {
  log_->warn("{}: lost the lease at epoch {}: {}", lease_.owner, epoch_, why);
  lost_ = true;
  lease_held_until_ = TimePoint{};
  core_->on_lease_lost();
  if (hooks_.lost) hooks_.lost(*this);
}

bool SimulatedProcessor::lease_held() {
  const bool held = !lost_ && scheduler_.now() < lease_held_until_;
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

Scheduler::Handle SimulatedProcessor::store_call(std::function<void()> task, bool background) {
  const Duration latency = random_.chance(faults_.slow)
                               ? random_.between(faults_.slow_low, faults_.slow_high)
                               : random_.between(faults_.latency_low, faults_.latency_high);
  return guarded(scheduler_.now() + latency, std::move(task), background);
}

void SimulatedProcessor::observe() {
  stats_.in_flight_max_seen = std::max<std::uint64_t>(stats_.in_flight_max_seen, calling_.size());
}

void SimulatedProcessor::forget_call(std::map<std::uint64_t, Call>::iterator it) {
  if (--calling_[it->second.request] == 0) calling_.erase(it->second.request);
  calls_.erase(it);
}

void SimulatedProcessor::set_timer(std::uint64_t request, TimePoint at) {
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

void SimulatedProcessor::cancel_timer(std::uint64_t request) {
  const auto it = timers_.find(request);
  if (it == timers_.end()) return;
  scheduler_.cancel(it->second.handle);  // no effect if a pause deferred it: the generation
  timers_.erase(it);                     // tells then
}

std::uint64_t SimulatedProcessor::call_api(const broker::ApiCall& call) {
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
void SimulatedProcessor::answered(std::uint64_t id, std::uint64_t request, std::uint32_t attempt,
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
  for (auto& event : events) queue_.push_back(std::move(event));
  if (commit_scheduled_) return;
  commit_scheduled_ = true;
  commit_retry_ = 10ms;
  store_call([this] { commit(); });
}

// A group commit of everything queued; a failed one is retried with a growing delay, as the
// store worker does, and the events wait in memory meanwhile. A commit may also succeed while
// reporting a failure (the connection broke before the answer): like the worker, the retry
// first looks for the batch after the read position.
void SimulatedProcessor::commit() {
  if (committing_.empty()) committing_.swap(queue_);
  auto retry = [this] {
    guarded(scheduler_.now() + commit_retry_, [this] { store_call([this] { commit(); }); });
    commit_retry_ = std::min(commit_retry_ * 2, Duration(2s));
  };
  if (uncertain_ && committed_meanwhile(committing_.front())) {
    log_->warn("the {} events whose commit seemed to fail were committed", committing_.size());
  } else if (random_.chance(faults_.commit_fails)) {
    ++stats_.store_faults;
    uncertain_ = false;
    log_->warn("cannot commit {} events, retrying in {} ms: injected fault", committing_.size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(commit_retry_).count());
    retry();
    return;
  } else {
    auto ids = store_.append_batch_fenced(
        committing_, store::Fence{std::string(lease_name), lease_.owner, epoch_});
    if (!ids && ids.error().code == Errc::fenced) {
      ++stats_.lost_fenced;
      lose(ids.error().message);
      return;
    }
    if (!ids) log_->error("the memory store refused a batch: {}", ids.error().message);
    if (random_.chance(faults_.commit_unacknowledged)) {
      ++stats_.store_faults;
      uncertain_ = true;
      log_->warn("cannot commit {} events, retrying: injected fault after the commit",
                 committing_.size());
      retry();
      return;
    }
  }
  committing_.clear();
  uncertain_ = false;
  commit_scheduled_ = false;
  if (!queue_.empty()) {
    commit_scheduled_ = true;
    commit_retry_ = 10ms;
    store_call([this] { commit(); });
  }
  schedule_read();
}

bool SimulatedProcessor::committed_meanwhile(const events::NewEvent& first) {
  auto read = store_.read_after(position_, std::numeric_limits<std::size_t>::max());
  if (!read) return false;
  for (const events::Envelope& envelope : *read) {
    if (envelope.causation_id == first.causation_id && envelope.event == first.event) return true;
  }
  return false;
}

void SimulatedProcessor::schedule_read() {
  if (read_scheduled_ || awaiting_ack_) return;
  read_scheduled_ = true;
  store_call([this] { read(); });
}

void SimulatedProcessor::read() {
  read_scheduled_ = false;
  // The worker's one thread does not read while it retries a commit; it reads after it.
  if (awaiting_ack_ || !committing_.empty()) return;
  if (random_.chance(faults_.read_fails)) {
    ++stats_.store_faults;
    read_scheduled_ = true;
    guarded(scheduler_.now() + 500ms, [this] { store_call([this] { read(); }); });
    return;
  }
  auto batch = store_.read_after(position_, faults_.read_limit);
  if (!batch) {
    log_->error("the memory store refused a read: {}", batch.error().message);
    return;
  }
  if (batch->empty() && caught_up_told_) return;  // woken again by the next commit
  // A full batch may end exactly at the log's end: the empty read after it tells.
  if (!batch->empty()) position_ = batch->back().id;
  const bool caught_up = batch->size() < faults_.read_limit;
  caught_up_told_ = caught_up;
  awaiting_ack_ = true;
  core_->on_events(*batch, caught_up);
  observe();
}

void SimulatedProcessor::ack() {
  awaiting_ack_ = false;
  schedule_read();
}

void SimulatedProcessor::set_checkpoint(std::string value) {
  checkpoint_ = std::move(value);
  if (save_scheduled_ || checkpoint_ == checkpoint_saved_) return;
  save_scheduled_ = true;
  guarded(scheduler_.now() + 200ms, [this] { store_call([this] { save_checkpoint(); }); });
}

void SimulatedProcessor::save_checkpoint() {
  save_scheduled_ = false;
  if (random_.chance(faults_.save_fails)) {
    ++stats_.store_faults;
    set_checkpoint(checkpoint_);  // tried again after the interval
    return;
  }
  if (auto saved = store_.save_checkpoint("processor", checkpoint_); !saved) {
    log_->error("the memory store refused a checkpoint: {}", saved.error().message);
    return;
  }
  checkpoint_saved_ = checkpoint_;
}

void SimulatedProcessor::load(std::vector<events::EventId> ids) {
  for (const events::EventId id : ids) stats_.parked.insert(events::to_int(id));
  to_load_.insert(to_load_.end(), ids.begin(), ids.end());
  if (load_scheduled_) return;
  load_scheduled_ = true;
  store_call([this] { load_now(); });
}

// Reads parked requests back; those the store fails to give are asked again later, as the
// store worker does for errors that may pass.
void SimulatedProcessor::load_now() {
  load_scheduled_ = false;
  std::vector<events::EventId> asked;
  asked.swap(to_load_);
  std::vector<events::EventId> delivered;
  std::vector<events::Envelope> loaded;
  std::vector<events::EventId> again;
  for (const events::EventId id : asked) {
    if (random_.chance(faults_.load_fails)) {
      ++stats_.store_faults;
      again.push_back(id);
      continue;
    }
    auto envelope = store_.get(id);
    delivered.push_back(id);
    if (envelope) loaded.push_back(std::move(*envelope));
  }
  if (!again.empty()) {
    guarded(scheduler_.now() + 500ms, [this, again] { load(again); });
  }
  if (!delivered.empty()) {
    core_->on_loaded(delivered, loaded);
    observe();
  }
}

}  // namespace api_broker::sim
