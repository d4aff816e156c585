#include "api_broker/broker/store_worker_core.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api_broker/assert.hpp"

namespace api_broker::broker {

using namespace std::chrono_literals;

namespace {

// The first back-off of a failing commit; it doubles up to limits::store_retry_delay_max.
constexpr std::chrono::milliseconds commit_delay_first{10};
// Past this back-off, a worker that is stopping gives up the events it could not commit.
constexpr std::chrono::milliseconds commit_delay_at_stop_max{1000};
// A failed read, or parked requests the store could not give, are tried again after this.
constexpr std::chrono::milliseconds read_again_after{500};
// An idle worker looks at the log at least this often (the lease's third if shorter).
constexpr std::chrono::milliseconds poll_interval{200};

}  // namespace

StoreWorkerCore::StoreWorkerCore(store::EventStore& store, events::EventId position,
                                 StoreWorkerOptions options, StoreWorkerCallbacks callbacks)
    : store_(store),
      position_(position),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      fence_{options_.lease_name, options_.lease_owner, options_.lease_epoch},
      renew_at_(options_.lease_taken_at + options_.lease_ttl / 3),
      held_until_(options_.lease_taken_at + options_.lease_ttl),
      commit_failing_("cannot commit events", callbacks_.on_warning),
      check_failing_("cannot check whether a failed commit was committed", callbacks_.on_warning),
      read_failing_("cannot read the log", callbacks_.on_warning),
      lease_failing_("cannot renew the lease", callbacks_.on_warning),
      checkpoint_failing_("cannot save the checkpoint", callbacks_.on_warning),
      load_failing_("cannot load parked requests", callbacks_.on_warning) {
  API_BROKER_ASSERT(options_.lease_ttl > 0ms);
  API_BROKER_ASSERT(options_.read_batch_max > 0);
  API_BROKER_ASSERT(options_.read_batch_max <= limits::read_batch_max);
}

void StoreWorkerCore::append(std::vector<events::NewEvent> events) {
  if (stopping_ || loss_ != LeaseLoss::none) return;
  for (auto& event : events) queue_.push_back(std::move(event));
}

void StoreWorkerCore::set_checkpoint(std::string value) { checkpoint_ = std::move(value); }

void StoreWorkerCore::ack() { awaiting_ack_ = false; }

void StoreWorkerCore::load(std::vector<events::EventId> ids) {
  to_load_.insert(to_load_.end(), ids.begin(), ids.end());
}

void StoreWorkerCore::stop() { stopping_ = true; }

// In the order of the worker's loop: the lease first (a long commit must not let it lapse when
// it need not), then the group commit, parked requests, the checkpoint and the log.
StoreWorkerNext StoreWorkerCore::step(SteadyTime now) {
  API_BROKER_ASSERT(!done_);
  API_BROKER_ASSERT(loss_ == LeaseLoss::none);  // a lost lease ends the worker at once
  API_BROKER_ASSERT(batch_done_ <= batch_.size());
  if (now >= renew_at_) return renew(now);
  if (batch_done_ < batch_.size()) return step_commit(now);
  if (!queue_.empty()) {
    batch_.clear();
    batch_.swap(queue_);
    batch_done_ = 0;
    uncertain_ = false;
    delay_ = commit_delay_first;
    retry_at_.reset();
    return step_commit(now);
  }
  if (stopping_) return finish(now);
  if (!load_later_.empty() && now >= load_again_at_) {
    to_load_.insert(to_load_.end(), load_later_.begin(), load_later_.end());
    load_later_.clear();
  }
  if (!to_load_.empty()) return load_parked(now);
  if (checkpoint_due(now)) {
    save_checkpoint(now);
    return StoreWorkerNext{};
  }
  if (may_read(now)) return read(now);
  return wait(now);
}

// One chunk of the group commit under way, or the wait before it.
StoreWorkerNext StoreWorkerCore::step_commit(SteadyTime now) {
  if (retry_at_) {
    // At shutdown the back-off is cut short, and the events are given up after a few tries.
    if (stopping_ && delay_ >= commit_delay_at_stop_max) return give_up();
    if (!stopping_ && now < *retry_at_) {
      return StoreWorkerNext{.kind = StoreWorkerNext::Kind::wait,
                             .until = std::min(*retry_at_, renew_at_),
                             .wake = StoreWorkerNext::Wake::on_stop,
                             .busy = true};
    }
    retry_at_.reset();
    delay_ = std::min(delay_ * 2, limits::store_retry_delay_max);
  }
  const std::size_t count = std::min(batch_.size() - batch_done_, limits::append_batch_max);
  API_BROKER_ASSERT(count > 0);
  if (uncertain_) {
    auto committed = committed_meanwhile(batch_[batch_done_]);
    if (!committed) {  // cannot tell yet: wait as for a failed commit
      check_failing_.happened(committed.error().message, now);
      return back_off(now);
    }
    check_failing_.cleared(now);
    uncertain_ = false;
    if (*committed) {
      callbacks_.on_warning(fmt::format(
          "the {} events whose commit seemed to fail were committed; not appending them again",
          count));
      return chunk_done(count);
    }
  }
  return commit_chunk(now, count);
}

StoreWorkerNext StoreWorkerCore::commit_chunk(SteadyTime now, std::size_t count) {
  auto ids = append_fenced(std::span<const events::NewEvent>(batch_.data() + batch_done_, count));
  if (ids) {
    API_BROKER_ASSERT(ids->size() == count);
    commit_failing_.cleared(now);
    delay_ = commit_delay_first;
    return chunk_done(count);
  }
  if (ids.error().code == Errc::fenced) return lose_lease(ids.error(), LeaseLoss::fenced_commit);
  if (ids.error().code == Errc::invalid_input || ids.error().code == Errc::duplicate) {
    return commit_one_by_one(count);
  }
  uncertain_ = ids.error().code == Errc::unavailable;
  // The events are facts already decided: keep them and retry until the store is back.
  commit_failing_.happened(fmt::format("{} events: {}", count, ids.error().message), now);
  return back_off(now);
}

// Retrying cannot help: the batch itself is refused. Drop only the offending event by
// committing them one at a time.
StoreWorkerNext StoreWorkerCore::commit_one_by_one(std::size_t count) {
  for (std::size_t i = batch_done_; i < batch_done_ + count; ++i) {
    auto id = append_fenced(std::span<const events::NewEvent>(&batch_[i], 1));
    if (!id && id.error().code == Errc::fenced) {
      return lose_lease(id.error(), LeaseLoss::fenced_commit);
    }
    if (!id) {
      callbacks_.on_warning(
          fmt::format("event dropped, the store refuses it: {}", id.error().message));
    }
  }
  return chunk_done(count);
}

StoreWorkerNext StoreWorkerCore::chunk_done(std::size_t count) {
  batch_done_ += count;
  API_BROKER_ASSERT(batch_done_ <= batch_.size());
  if (batch_done_ == batch_.size()) {
    batch_.clear();
    batch_done_ = 0;
  }
  return StoreWorkerNext{};
}

StoreWorkerNext StoreWorkerCore::back_off(SteadyTime now) {
  if (stopping_) {
    if (delay_ >= commit_delay_at_stop_max) return give_up();
    delay_ = std::min(delay_ * 2, limits::store_retry_delay_max);
    return StoreWorkerNext{};
  }
  retry_at_ = now + delay_;
  // Commits that keep failing while the lease row stays writable must not let it lapse: the
  // wait ends for a renewal too.
  return StoreWorkerNext{.kind = StoreWorkerNext::Kind::wait,
                         .until = std::min(*retry_at_, renew_at_),
                         .wake = StoreWorkerNext::Wake::on_stop,
                         .busy = true};
}

StoreWorkerNext StoreWorkerCore::give_up() {
  API_BROKER_ASSERT(stopping_);  // only a worker that stops gives events up
  callbacks_.on_warning(
      fmt::format("{} events not committed at shutdown", batch_.size() - batch_done_));
  batch_.clear();
  batch_done_ = 0;
  uncertain_ = false;
  retry_at_.reset();
  return StoreWorkerNext{};
}

// A commit that failed may have been committed all the same: the connection broke after
// the server committed, before it said so. The batch was then appended after our read
// position, where its first event (a decision or an answer: unique per request, class and
// attempt) can be found. Errors: the store cannot be read yet.
Result<bool> StoreWorkerCore::committed_meanwhile(const events::NewEvent& first) {
  events::EventId after = position_;
  for (;;) {
    auto read = store_.read_after(after, limits::read_batch_max);
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

Result<std::vector<events::EventId>> StoreWorkerCore::append_fenced(
    std::span<const events::NewEvent> batch) {
  API_BROKER_ASSERT(loss_ == LeaseLoss::none);  // nothing is appended once the lease is lost
  API_BROKER_ASSERT(!batch.empty());
  API_BROKER_ASSERT(batch.size() <= limits::append_batch_max);
  return store_.append_batch_fenced(batch, fence_);
}

StoreWorkerNext StoreWorkerCore::lose_lease(Error error, LeaseLoss how) {
  API_BROKER_ASSERT(how != LeaseLoss::none);
  API_BROKER_ASSERT(loss_ == LeaseLoss::none);  // found out once: the worker is done after it
  loss_ = how;
  held_until_ = SteadyTime{};
  done_ = true;
  (void)store_.close();
  error.message += "; stopping: appending nothing more, sending nothing more";
  callbacks_.on_fatal(error);
  return StoreWorkerNext{.kind = StoreWorkerNext::Kind::done};
}

// Renews the lease every third of its TTL. Lost when another processor took it (or took it
// and gave it up: the epoch tells), so that whatever this one does now may overlap with it.
StoreWorkerNext StoreWorkerCore::renew(SteadyTime now) {
  auto holder = store_.acquire_lease(options_.lease_name, options_.lease_owner, options_.lease_ttl);
  if (!holder) {
    // Keep trying; a store that is down blocks every other processor too. lease_held()
    // turns false when the TTL has passed since the last renewal.
    lease_failing_.happened(holder.error().message, now);
    renew_at_ = now + std::min<std::chrono::milliseconds>(options_.lease_ttl / 3, poll_interval);
    return StoreWorkerNext{};
  }
  lease_failing_.cleared(now);
  if (!store::holds(*holder, fence_)) {
    // This renewal took the lease anew after a successor had freed it (a new epoch): give it
    // back, so that the next processor need not wait a TTL for it.
    if (holder->owner == options_.lease_owner) {
      (void)store_.release_lease(options_.lease_name, options_.lease_owner);
    }
    return lose_lease(store::lease_lost(fence_, *holder), LeaseLoss::renewal);
  }
  // Held from when the renewal was asked (a runner passes `now` read before the call).
  API_BROKER_ASSERT(now + options_.lease_ttl >= held_until_);
  held_until_ = now + options_.lease_ttl;
  renew_at_ = now + options_.lease_ttl / 3;
  if (callbacks_.on_lease_renewed) callbacks_.on_lease_renewed();
  return StoreWorkerNext{};
}

bool StoreWorkerCore::checkpoint_due(SteadyTime now) const {
  return checkpoint_ != checkpoint_saved_ &&
         now - checkpoint_tried_at_ >= options_.checkpoint_interval;
}

void StoreWorkerCore::save_checkpoint(SteadyTime now) {
  API_BROKER_ASSERT(loss_ == LeaseLoss::none);
  checkpoint_tried_at_ = now;  // a failed save is tried again after the interval too
  if (auto saved = store_.save_checkpoint(options_.checkpoint_name, checkpoint_); !saved) {
    checkpoint_failing_.happened(saved.error().message, now);
    return;
  }
  checkpoint_failing_.cleared(now);
  checkpoint_saved_ = checkpoint_;
}

// Reads parked requests back; those the store cannot give now are asked again later.
StoreWorkerNext StoreWorkerCore::load_parked(SteadyTime now) {
  std::vector<events::EventId> asked;
  std::vector<events::Envelope> loaded;
  for (const events::EventId id : to_load_) {
    auto envelope = store_.get(id);
    if (envelope) {
      API_BROKER_ASSERT(envelope->id == id);
      asked.push_back(id);
      loaded.push_back(std::move(*envelope));
      continue;
    }
    if (envelope.error().code == Errc::unavailable) {
      load_failing_.happened(
          fmt::format("request {}: {}", events::to_int(id), envelope.error().message), now);
      load_later_.push_back(id);  // the store may give it later
    } else {
      callbacks_.on_warning(
          fmt::format("cannot load request {}: {}", events::to_int(id), envelope.error().message));
      asked.push_back(id);  // not there or corrupt: given up
    }
  }
  to_load_.clear();
  if (load_later_.empty()) load_failing_.cleared(now);
  if (!load_later_.empty()) load_again_at_ = now + read_again_after;
  API_BROKER_ASSERT(loaded.size() <= asked.size());
  if (!asked.empty()) callbacks_.on_loaded(std::move(asked), std::move(loaded));
  return StoreWorkerNext{};
}

bool StoreWorkerCore::may_read(SteadyTime now) const {
  return !stopping_ && !awaiting_ack_ && (!read_again_at_ || now >= *read_again_at_);
}

StoreWorkerNext StoreWorkerCore::read(SteadyTime now) {
  read_again_at_.reset();
  auto read = store_.read_after(position_, options_.read_batch_max);
  if (!read) {
    if (read.error().code == Errc::corrupt && read.error().related_id != 0) {
      callbacks_.on_warning(fmt::format("skipping event: {}", read.error().message));
      position_ = events::EventId{read.error().related_id};
      return StoreWorkerNext{};
    }
    read_failing_.happened(read.error().message, now);
    read_again_at_ = now + read_again_after;
    return StoreWorkerNext{};
  }
  read_failing_.cleared(now);
  if (read->empty() && caught_up_told_) return wait(now);  // woken by the next append
  // A full batch may end exactly at the log's end: the empty read after it tells.
  API_BROKER_ASSERT(read->size() <= options_.read_batch_max);
  if (!read->empty()) {
    API_BROKER_ASSERT(read->front().id > position_);  // the store's contract: ids after it
    position_ = read->back().id;
  }
  const bool caught_up = read->size() < options_.read_batch_max;
  caught_up_told_ = caught_up;
  awaiting_ack_ = true;
  callbacks_.on_events(std::move(*read), caught_up);
  return StoreWorkerNext{};
}

StoreWorkerNext StoreWorkerCore::finish(SteadyTime now) {
  API_BROKER_ASSERT(stopping_);
  API_BROKER_ASSERT(queue_.empty() && batch_.empty());
  if (checkpoint_ != checkpoint_saved_) save_checkpoint(now);
  (void)store_.release_lease(options_.lease_name, options_.lease_owner);
  (void)store_.close();
  done_ = true;
  return StoreWorkerNext{.kind = StoreWorkerNext::Kind::done};
}

// Nothing to do now: until the next renewal, retry or checkpoint, or a poll of the log.
StoreWorkerNext StoreWorkerCore::wait(SteadyTime now) const {
  const auto poll = std::min<std::chrono::milliseconds>(options_.lease_ttl / 3, poll_interval);
  StoreWorkerNext next{.kind = StoreWorkerNext::Kind::wait,
                       .until = std::min(now + poll, renew_at_),
                       .wake = StoreWorkerNext::Wake::on_input,
                       .watch_log = may_read(now)};
  if (checkpoint_ != checkpoint_saved_) {
    next.until = std::min(next.until, checkpoint_tried_at_ + options_.checkpoint_interval);
    next.busy = true;
  }
  if (read_again_at_ && !awaiting_ack_) {
    next.until = std::min(next.until, *read_again_at_);
    next.busy = true;
  }
  if (!load_later_.empty()) {
    next.until = std::min(next.until, load_again_at_);
    next.busy = true;
  }
  API_BROKER_ASSERT(next.until > now);  // else there was something to do now
  return next;
}

}  // namespace api_broker::broker
