#include "submitter.hpp"

#include <fmt/format.h>

#include <map>

#include "api_broker/limits.hpp"
#include "api_broker/thread_name.hpp"

namespace api_broker::service {

Result<std::unique_ptr<Submitter>> Submitter::start(
    const broker::StoreOpener& open_store, std::function<void(const CommitReport&)> on_commit) {
  auto store = open_store();
  if (!store) return fail(std::move(store).error());
  std::unique_ptr<Submitter> submitter(new Submitter(std::move(*store), std::move(on_commit)));
  try {
    submitter->thread_ = std::thread([s = submitter.get()] {
      name_this_thread("ab-submitter");
      s->run();
    });
  } catch (const std::system_error& error) {
    return fail(Errc::unavailable,
                fmt::format("cannot start the submitter thread: {}", error.what()));
  }
  return submitter;
}

Submitter::Submitter(std::unique_ptr<store::EventStore> store,
                     std::function<void(const CommitReport&)> on_commit)
    : store_(std::move(store)), on_commit_(std::move(on_commit)) {}

Submitter::~Submitter() { stop(); }

Result<void> Submitter::submit(std::vector<events::NewEvent> events, Done done) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return fail(Errc::unavailable, "the service is stopping");
    if (queued_events_ + events.size() > limits::service_submissions_queued_max) {
      return fail(Errc::unavailable, "too many submissions are waiting for the store: try again");
    }
    queued_events_ += events.size();
    queue_.push_back(Submission{std::move(events), std::move(done)});
  }
  wake_.notify_one();
  return {};
}

void Submitter::stop() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (store_) (void)store_->close();
}

void Submitter::run() {
  std::vector<Submission> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything answered
      // Everything waiting now, up to the bound of one transaction (a submission is never
      // split: a batch larger than the bound goes alone).
      std::size_t events = 0;
      while (!queue_.empty() && (batch.empty() || events + queue_.front().events.size() <=
                                                      limits::service_commit_batch_max)) {
        events += queue_.front().events.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= events;
    }
    commit(batch);
    batch.clear();
  }
}

void Submitter::commit(std::vector<Submission>& batch) {
  const auto started = std::chrono::steady_clock::now();
  // Flattened: position i of `events` is (submission, event) of `where`.
  std::vector<events::NewEvent> events;
  std::vector<std::pair<std::size_t, std::size_t>> where;
  std::vector<std::vector<Appended>> results(batch.size());
  for (std::size_t s = 0; s < batch.size(); ++s) {
    results[s].resize(batch[s].events.size());
    for (std::size_t e = 0; e < batch[s].events.size(); ++e) {
      events.push_back(batch[s].events[e]);
      where.emplace_back(s, e);
    }
  }
  // A UUID that stands twice: the later ones take the first's result.
  std::map<events::Uuid, std::size_t> first_with;
  std::vector<std::optional<std::size_t>> same_as(events.size());
  std::vector<std::size_t> to_write;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].external_uuid) {
      auto [it, inserted] = first_with.emplace(*events[i].external_uuid, i);
      if (!inserted) {
        same_as[i] = it->second;
        continue;
      }
    }
    to_write.push_back(i);
  }
  auto result_of = [&](std::size_t i) -> Appended& {
    return results[where[i].first][where[i].second];
  };
  // Up to twice: a duplicate UUID fails the whole transaction; the events whose UUID is stored
  // are then answered with the stored event, and the rest is appended again.
  for (int round = 0; round < 2 && !to_write.empty(); ++round) {
    std::vector<events::NewEvent> writing;
    writing.reserve(to_write.size());
    for (const std::size_t i : to_write) writing.push_back(events[i]);
    auto ids = store_->append_batch(writing);
    if (ids) {
      for (std::size_t k = 0; k < to_write.size(); ++k) result_of(to_write[k]).id = (*ids)[k];
      to_write.clear();
      break;
    }
    if (ids.error().code != Errc::duplicate || round == 1) {
      for (const std::size_t i : to_write) result_of(i).error = ids.error();
      to_write.clear();
      break;
    }
    std::vector<std::size_t> left;
    std::optional<Error> unresolved;  // the store failed: write nothing more of this group
    for (const std::size_t i : to_write) {
      if (!events[i].external_uuid) {
        left.push_back(i);
        continue;
      }
      auto stored = store_->resolve(*events[i].external_uuid);
      if (stored) {
        Appended& appended = result_of(i);
        appended.id = *stored;
        auto envelope = store_->get(*stored);
        if (envelope) {
          appended.existing = envelope->event;
        } else {
          appended.error = envelope.error();
        }
      } else if (stored.error().code == Errc::not_found) {
        left.push_back(i);
      } else {
        result_of(i).error = stored.error();
        unresolved = stored.error();
      }
    }
    if (unresolved) {
      for (const std::size_t i : left) result_of(i).error = *unresolved;
      left.clear();
    }
    to_write = std::move(left);
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!same_as[i]) continue;
    const Appended& first = result_of(*same_as[i]);
    Appended& appended = result_of(i);
    appended.id = first.id;
    appended.error = first.error;
    appended.existing = first.existing ? first.existing : events[*same_as[i]].event;
  }
  if (on_commit_) {
    on_commit_(CommitReport{.events = events.size(),
                            .latency = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started)});
  }
  for (std::size_t s = 0; s < batch.size(); ++s) batch[s].done(std::move(results[s]));
}

}  // namespace api_broker::service
