#include "store_worker.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api_broker/limits.hpp"

namespace api_broker::broker {

using namespace std::chrono_literals;

StoreWorker::StoreWorker(std::unique_ptr<store::EventStore> store, events::EventId position,
                         StoreWorkerOptions options, StoreWorkerCallbacks callbacks)
    : store_(std::move(store)),
      position_(position),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      lease_renewed_at_(std::chrono::steady_clock::now()),
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

bool StoreWorker::commit(std::vector<events::NewEvent>& batch) {
  std::size_t done = 0;
  auto delay = 10ms;
  bool uncertain = false;  // the last attempt failed: it may have been committed
  while (done < batch.size()) {
    const std::size_t count = std::min(batch.size() - done, limits::append_batch_max);
    if (uncertain) {
      auto committed = committed_meanwhile(batch[done]);
      if (committed && *committed) {
        callbacks_.on_warning(fmt::format(
            "the {} events whose commit seemed to fail were committed; not appending them again",
            count));
        done += count;
        uncertain = false;
        continue;
      }
      if (!committed) {  // cannot tell yet: wait as for a failed commit
        callbacks_.on_warning("cannot check whether a failed commit was committed: " +
                              committed.error().message);
        {
          std::lock_guard lock(mutex_);
          if (stopping_ && delay >= 1000ms) return false;
        }
        wake_.wait_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(2000));
        continue;
      }
    }
    auto ids = store_->append_batch(std::span<const events::NewEvent>(batch.data() + done, count));
    if (ids) {
      done += count;
      delay = 10ms;
      uncertain = false;
      continue;
    }
    uncertain = ids.error().code == Errc::unavailable;
    // The events are facts already decided: keep them and retry until the store is back.
    callbacks_.on_warning(fmt::format("cannot commit {} events, retrying in {} ms: {}", count,
                                      delay.count(), ids.error().message));
    if (ids.error().code == Errc::invalid_input || ids.error().code == Errc::duplicate) {
      // Retrying cannot help: the batch itself is refused. Drop only the offending event by
      // committing them one at a time.
      for (std::size_t i = done; i < done + count; ++i) {
        if (auto id = store_->append(batch[i]); !id) {
          callbacks_.on_warning(
              fmt::format("event dropped, the store refuses it: {}", id.error().message));
        }
      }
      done += count;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && delay >= 1000ms) return false;  // give up at shutdown after a few tries
    }
    wake_.wait_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
  return true;
}

void StoreWorker::maybe_save_checkpoint(bool force) {
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
    callbacks_.on_warning("cannot save the checkpoint: " + saved.error().message);
    std::lock_guard lock(mutex_);
    checkpoint_dirty_ = true;
    return;
  }
  checkpoint_saved_ = std::move(value);
  checkpoint_saved_at_ = std::chrono::steady_clock::now();
}

bool StoreWorker::renew_lease() {
  const auto now = std::chrono::steady_clock::now();
  if (now - lease_renewed_at_ < options_.lease_ttl / 3) return true;
  auto holder =
      store_->acquire_lease(options_.lease_name, options_.lease_owner, options_.lease_ttl);
  if (!holder) {
    callbacks_.on_warning("cannot renew the lease: " + holder.error().message);
    return true;  // keep trying; a store that is down blocks every other processor too
  }
  if (holder->owner != options_.lease_owner) {
    callbacks_.on_fatal(Error{Errc::unavailable, fmt::format("lost the '{}' lease to {}; stopping",
                                                             options_.lease_name, holder->owner)});
    return false;
  }
  lease_renewed_at_ = now;
  return true;
}

void StoreWorker::run() {
  std::vector<events::NewEvent> batch;
  std::vector<events::EventId> to_load;
  for (;;) {
    bool stopping = false;
    bool may_read = false;
    wake_.clear();
    {
      std::lock_guard lock(mutex_);
      batch.swap(queue_);
      to_load.swap(to_load_);
      stopping = stopping_;
      may_read = !stopping_ && !awaiting_ack_;
    }
    bool worked = false;
    if (!batch.empty()) {
      if (!commit(batch)) {
        callbacks_.on_warning(fmt::format("{} events not committed at shutdown", batch.size()));
      }
      batch.clear();
      worked = true;
    }
    if (!to_load.empty() && !stopping) {
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
        callbacks_.on_warning(fmt::format("cannot load request {}: {}", events::to_int(id),
                                          envelope.error().message));
        if (envelope.error().code == Errc::unavailable) {
          again.push_back(id);
        } else {
          asked.push_back(id);  // not there or corrupt: given up
        }
      }
      if (!asked.empty()) callbacks_.on_loaded(std::move(asked), std::move(loaded));
      to_load.clear();
      if (!again.empty()) {
        wake_.wait_for(500ms);
        std::lock_guard lock(mutex_);
        to_load_.insert(to_load_.end(), again.begin(), again.end());
      }
      worked = true;
    }
    if (!renew_lease()) return;
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
        callbacks_.on_warning("cannot read the log, retrying: " + read.error().message);
        wake_.wait_for(500ms);
        continue;
      }
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
  maybe_save_checkpoint(true);
  (void)store_->release_lease(options_.lease_name, options_.lease_owner);
  (void)store_->close();
}

}  // namespace api_broker::broker
