#include "store_worker.hpp"

#include <utility>

#include "api_broker/assert.hpp"
#include "api_broker/thread_name.hpp"

namespace api_broker::broker {

namespace {

std::int64_t steady_nanos(SteadyTime at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

}  // namespace

StoreWorker::StoreWorker(std::unique_ptr<store::EventStore> store, events::EventId position,
                         StoreWorkerOptions options, StoreWorkerCallbacks callbacks)
    : store_(std::move(store)),
      lease_held_until_(steady_nanos(options.lease_taken_at + options.lease_ttl)),
      core_(*store_, position, std::move(options), wrap(std::move(callbacks))),
      thread_([this] {
        name_this_thread("ab-store");
        run();
      }) {}

StoreWorker::~StoreWorker() {
  stop();
  join();
}

// lease_held() must be true again before the processor hears of a renewal (it then sends the
// calls it held back), and false before it hears of a loss.
StoreWorkerCallbacks StoreWorker::wrap(StoreWorkerCallbacks callbacks) {
  auto renewed = std::move(callbacks.on_lease_renewed);
  callbacks.on_lease_renewed = [this, renewed = std::move(renewed)] {
    lease_held_until_.store(steady_nanos(core_.lease_held_until()), std::memory_order_release);
    if (renewed) renewed();
  };
  auto fatal = std::move(callbacks.on_fatal);
  callbacks.on_fatal = [this, fatal = std::move(fatal)](const Error& error) {
    lease_held_until_.store(0, std::memory_order_release);
    fatal(error);
  };
  return callbacks;
}

void StoreWorker::append(std::vector<events::NewEvent> events) {
  {
    MutexLock lock(mutex_);
    if (inbox_.stopping) return;
    for (auto& event : events) inbox_.events.push_back(std::move(event));
  }
  wake_.request_stop();
}

void StoreWorker::set_checkpoint(std::string value) {
  MutexLock lock(mutex_);
  inbox_.checkpoint = std::move(value);
}

void StoreWorker::ack() {
  {
    MutexLock lock(mutex_);
    inbox_.acked = true;
  }
  wake_.request_stop();
}

void StoreWorker::load(std::vector<events::EventId> ids) {
  {
    MutexLock lock(mutex_);
    inbox_.to_load.insert(inbox_.to_load.end(), ids.begin(), ids.end());
  }
  wake_.request_stop();
}

void StoreWorker::stop() {
  {
    MutexLock lock(mutex_);
    inbox_.stopping = true;
  }
  wake_.request_stop();
}

void StoreWorker::join() {
  if (thread_.joinable()) thread_.join();
}

std::size_t StoreWorker::queued() const {
  MutexLock lock(mutex_);
  return inbox_.events.size();
}

bool StoreWorker::lease_held() const {
  return steady_nanos(std::chrono::steady_clock::now()) <
         lease_held_until_.load(std::memory_order_acquire);
}

bool StoreWorker::stopping() const {
  MutexLock lock(mutex_);
  return inbox_.stopping;
}

// Moves the inputs into the core, on the worker thread; the store is never used under the lock.
void StoreWorker::hand_over() {
  Inbox inbox;
  {
    MutexLock lock(mutex_);
    inbox.stopping = inbox_.stopping;
    std::swap(inbox, inbox_);
    inbox_.stopping = inbox.stopping;
  }
  if (!inbox.events.empty()) core_.append(std::move(inbox.events));
  if (inbox.checkpoint) core_.set_checkpoint(std::move(*inbox.checkpoint));
  if (!inbox.to_load.empty()) core_.load(std::move(inbox.to_load));
  if (inbox.acked) core_.ack();
  if (inbox.stopping) core_.stop();
}

// A wait on input returns at the first wake-up (or append to the log, when watched); a back-off
// waits its whole delay unless stop() is called, so that a store that is down is retried at
// the pace of the backoff.
void StoreWorker::wait(const StoreWorkerNext& next) {
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next.until) return;
    const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(next.until - now);
    if (next.wake == StoreWorkerNext::Wake::on_input) {
      if (next.watch_log) {
        (void)store_->wait_for_append(core_.position(), timeout, wake_);
      } else {
        (void)wake_.wait_for(timeout);
      }
      return;
    }
    if (stopping()) return;
    (void)wake_.wait_for(timeout);
    wake_.clear();  // the loop hands every input over after this returns
  }
}

void StoreWorker::run() {
  for (;;) {
    wake_.clear();
    hand_over();
    const StoreWorkerNext next = core_.step(std::chrono::steady_clock::now());
    if (next.kind == StoreWorkerNext::Kind::done) break;
    if (next.kind == StoreWorkerNext::Kind::wait) wait(next);
  }
  API_BROKER_ASSERT(core_.done());
}

}  // namespace api_broker::broker
