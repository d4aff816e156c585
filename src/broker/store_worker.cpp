#include "store_worker.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api_broker/assert.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {

using namespace std::chrono_literals;

namespace {

std::int64_t steady_nanos(std::chrono::steady_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

}  // namespace

StoreWorker::StoreWorker(std::unique_ptr<store::EventStore> store, events::EventId position,
                         StoreWorkerOptions options, StoreWorkerCallbacks callbacks)
    : store_(std::move(store)),
      position_(position),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      lease_renewed_at_(options_.lease_taken_at),
      lease_held_until_(steady_nanos(options_.lease_taken_at + options_.lease_ttl)),
      fence_{options_.lease_name, options_.lease_owner, options_.lease_epoch},
      commit_failing_("cannot commit events", callbacks_.on_warning),
      check_failing_("cannot check whether a failed commit was committed", callbacks_.on_warning),
      read_failing_("cannot read the log", callbacks_.on_warning),
      lease_failing_("cannot renew the lease", callbacks_.on_warning),
      checkpoint_failing_("cannot save the checkpoint", callbacks_.on_warning),
      load_failing_("cannot load parked requests", callbacks_.on_warning),
      thread_([this] { run(); }) {}

StoreWorker::~StoreWorker() {
  stop();
  join();
}

void StoreWorker::append(std::vector<events::NewEvent> events) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    for (auto& event : events) queue_.push_back(std::move(event));
  }
  wake_.request_stop();
}

void StoreWorker::set_checkpoint(std::string value) {
  std::lock_guard lock(mutex_);
  checkpoint_ = std::move(value);
  checkpoint_dirty_ = true;
}

void StoreWorker::ack() {
  {
    std::lock_guard lock(mutex_);
    awaiting_ack_ = false;
  }
  wake_.request_stop();
}

void StoreWorker::load(std::vector<events::EventId> ids) {
  {
    std::lock_guard lock(mutex_);
    to_load_.insert(to_load_.end(), ids.begin(), ids.end());
  }
  wake_.request_stop();
}

void StoreWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.request_stop();
}

void StoreWorker::join() {
  if (thread_.joinable()) thread_.join();
}

std::size_t StoreWorker::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool StoreWorker::lease_held() const {
  return steady_nanos(std::chrono::steady_clock::now()) <
         lease_held_until_.load(std::memory_order_acquire);
}

bool StoreWorker::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool StoreWorker::pause(std::chrono::milliseconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  for (;;) {
    if (stopping()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    wake_.wait_for(std::chrono::ceil<std::chrono::milliseconds>(until - now));
    wake_.clear();  // the run loop looks at every queue again after this returns
  }
}

// A commit that failed may have been committed all the same: the connection broke after
// the server committed, before it said so. The batch was then appended after our read
// position, where its first event (a decision or an answer: unique per request, class and
// attempt) can be found. Errors: the store cannot be read yet.
Result<bool> StoreWorker::committed_meanwhile(const events::NewEvent& first) {
  events::EventId after = position_;
  for (;;) {
    auto read = store_->read_after(after, limits::read_batch_max);
    if (!read) {
      if (read.error().code != Errc::corrupt || read.error().related_id == 0) {
        return fail(std::move(read).error());
      }
      after = events::EventId{read.error().related_id};
      continue;
    }
    if (read->empty()) return false;
    for (const events::Envelope& envelope : *read) {
      if (envelope.causation_id == first.causation_id && envelope.event == first.event) {
        return true;
      }
    }
    after = read->back().id;
  }
}

Result<std::vector<events::EventId>> StoreWorker::append_fenced(
    std::span<const events::NewEvent> batch) {
  API_BROKER_ASSERT(!lease_lost_);  // nothing is appended once the lease is known lost
  auto ids = store_->append_batch_fenced(batch, fence_);
  if (!ids && ids.error().code == Errc::fenced) lose_lease(ids.error());
  return ids;
}

void StoreWorker::lose_lease(Error error) {
  if (lease_lost_) return;
  lease_lost_ = true;
  lease_held_until_.store(0, std::memory_order_release);
  error.message += "; stopping: appending nothing more, sending nothing more";
  callbacks_.on_fatal(error);
}

// Commits `batch` in group commits of at most append_batch_max, retrying failures with a
// backoff until the store takes them. False if they could not all be committed: the lease
// was lost, or the worker was stopped while the store was down.
bool StoreWorker::commit(std::vector<events::NewEvent>& batch) {
  std::size_t done = 0;
  auto delay = 10ms;
  bool uncertain = false;  // the last attempt failed: it may have been committed
  auto back_off = [&] {
    // Give up at shutdown after a few tries; else wait the whole delay.
    if (stopping() && delay >= 1000ms) return false;
    if (!pause(delay) && delay >= 1000ms) return false;
    delay = std::min(delay * 2, limits::store_retry_delay_max);
    // Commits that keep failing while the lease row stays writable must not let it lapse.
    return renew_lease();
  };
  while (done < batch.size()) {
    if (lease_lost_) return false;
    const std::size_t count = std::min(batch.size() - done, limits::append_batch_max);
    if (uncertain) {
      auto committed = committed_meanwhile(batch[done]);
      if (!committed) {  // cannot tell yet: wait as for a failed commit
        check_failing_.happened(committed.error().message);
        if (!back_off()) return false;
        continue;
      }
      check_failing_.cleared();
      uncertain = false;
      if (*committed) {
        callbacks_.on_warning(fmt::format(
            "the {} events whose commit seemed to fail were committed; not appending them again",
            count));
        done += count;
        continue;
      }
    }
    auto ids = append_fenced(std::span<const events::NewEvent>(batch.data() + done, count));
    if (ids) {
      commit_failing_.cleared();
      done += count;
      delay = 10ms;
      continue;
    }
    if (ids.error().code == Errc::fenced) return false;
    if (ids.error().code == Errc::invalid_input || ids.error().code == Errc::duplicate) {
      // Retrying cannot help: the batch itself is refused. Drop only the offending event by
      // committing them one at a time.
      for (std::size_t i = done; i < done + count; ++i) {
        auto id = append_fenced(std::span<const events::NewEvent>(&batch[i], 1));
        if (!id && id.error().code == Errc::fenced) return false;
        if (!id) {
          callbacks_.on_warning(
              fmt::format("event dropped, the store refuses it: {}", id.error().message));
        }
      }
      done += count;
      continue;
    }
    uncertain = ids.error().code == Errc::unavailable;
    // The events are facts already decided: keep them and retry until the store is back.
    commit_failing_.happened(fmt::format("{} events: {}", count, ids.error().message));
    if (!back_off()) return false;
  }
  return true;
}

void StoreWorker::maybe_save_checkpoint(bool force) {
  if (lease_lost_) return;
  std::string value;
  {
    std::lock_guard lock(mutex_);
    if (!checkpoint_dirty_) return;
    if (!force &&
        std::chrono::steady_clock::now() - checkpoint_saved_at_ < options_.checkpoint_interval) {
      return;
    }
    value = checkpoint_;
    checkpoint_dirty_ = false;
  }
  if (value == checkpoint_saved_) return;
  if (auto saved = store_->save_checkpoint(options_.checkpoint_name, value); !saved) {
    checkpoint_failing_.happened(saved.error().message);
    std::lock_guard lock(mutex_);
    checkpoint_dirty_ = true;
    return;
  }
  checkpoint_failing_.cleared();
  checkpoint_saved_ = std::move(value);
  checkpoint_saved_at_ = std::chrono::steady_clock::now();
}

// Renews the lease every third of its TTL. False when it is lost: another processor took it
// (or took it and gave it up: the epoch tells), so whatever this one does now may overlap
// with it.
bool StoreWorker::renew_lease() {
  if (lease_lost_) return false;
  const auto asked_at = std::chrono::steady_clock::now();
  if (asked_at - lease_renewed_at_ < options_.lease_ttl / 3) return true;
  auto holder =
      store_->acquire_lease(options_.lease_name, options_.lease_owner, options_.lease_ttl);
  if (!holder) {
    // Keep trying; a store that is down blocks every other processor too. lease_held()
    // turns false when the TTL has passed since the last renewal.
    lease_failing_.happened(holder.error().message);
    return true;
  }
  lease_failing_.cleared();
  if (!store::holds(*holder, fence_)) {
    // This renewal took the lease anew after a successor had freed it (a new epoch): give it
    // back, so that the next processor need not wait a TTL for it.
    if (holder->owner == options_.lease_owner) {
      (void)store_->release_lease(options_.lease_name, options_.lease_owner);
    }
    lose_lease(store::lease_lost(fence_, *holder));
    return false;
  }
  lease_renewed_at_ = asked_at;
  lease_held_until_.store(steady_nanos(asked_at + options_.lease_ttl), std::memory_order_release);
  if (callbacks_.on_lease_renewed) callbacks_.on_lease_renewed();
  return true;
}

// Reads parked requests back; those the store cannot give now are asked again later.
void StoreWorker::load_parked(std::vector<events::EventId>& to_load) {
  std::vector<events::EventId> asked;
  std::vector<events::Envelope> loaded;
  std::vector<events::EventId> again;  // the store may give them later
  for (const events::EventId id : to_load) {
    auto envelope = store_->get(id);
    if (envelope) {
      asked.push_back(id);
      loaded.push_back(std::move(*envelope));
      continue;
    }
    if (envelope.error().code == Errc::unavailable) {
      load_failing_.happened(
          fmt::format("request {}: {}", events::to_int(id), envelope.error().message));
      again.push_back(id);
    } else {
      callbacks_.on_warning(
          fmt::format("cannot load request {}: {}", events::to_int(id), envelope.error().message));
      asked.push_back(id);  // not there or corrupt: given up
    }
  }
  if (again.empty()) load_failing_.cleared();
  if (!asked.empty()) callbacks_.on_loaded(std::move(asked), std::move(loaded));
  to_load.clear();
  if (!again.empty()) {
    (void)pause(500ms);
    std::lock_guard lock(mutex_);
    to_load_.insert(to_load_.end(), again.begin(), again.end());
  }
}

void StoreWorker::run() {
  std::vector<events::NewEvent> batch;
  std::vector<events::EventId> to_load;
  for (;;) {
    bool stopping = false;
    bool may_read = false;
    wake_.clear();
    // Renewed first: a long commit must not let it lapse when it need not.
    if (!renew_lease()) break;
    {
      std::lock_guard lock(mutex_);
      batch.swap(queue_);
      to_load.swap(to_load_);
      stopping = stopping_;
      may_read = !stopping_ && !awaiting_ack_;
    }
    bool worked = false;
    if (!batch.empty()) {
      if (!commit(batch) && !lease_lost_) {
        callbacks_.on_warning(fmt::format("{} events not committed at shutdown", batch.size()));
      }
      batch.clear();
      if (lease_lost_) break;
      worked = true;
    }
    if (!to_load.empty() && !stopping) {
      load_parked(to_load);
      worked = true;
    }
    maybe_save_checkpoint(stopping);
    if (stopping) {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) break;
      continue;
    }
    if (may_read) {
      auto read = store_->read_after(position_, limits::read_batch_max);
      if (!read) {
        if (read.error().code == Errc::corrupt && read.error().related_id != 0) {
          callbacks_.on_warning(fmt::format("skipping event: {}", read.error().message));
          position_ = events::EventId{read.error().related_id};
          continue;
        }
        read_failing_.happened(read.error().message);
        (void)pause(500ms);
        continue;
      }
      read_failing_.cleared();
      if (!read->empty() || !caught_up_told_) {
        // A full batch may end exactly at the log's end: the empty read after it tells.
        if (!read->empty()) position_ = read->back().id;
        const bool caught_up = read->size() < limits::read_batch_max;
        caught_up_told_ = caught_up;
        {
          std::lock_guard lock(mutex_);
          awaiting_ack_ = true;
        }
        callbacks_.on_events(std::move(*read), caught_up);
        continue;
      }
      if (worked) continue;  // our own commits are there to read
      (void)store_->wait_for_append(position_, std::min(options_.lease_ttl / 3, 200ms), wake_);
      continue;
    }
    if (!worked) wake_.wait_for(std::min(options_.lease_ttl / 3, 200ms));
  }
  if (!lease_lost_) {
    maybe_save_checkpoint(true);
    (void)store_->release_lease(options_.lease_name, options_.lease_owner);
  }
  (void)store_->close();
}

}  // namespace api_broker::broker
