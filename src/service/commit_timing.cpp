#include "commit_timing.hpp"

#include <chrono>
#include <utility>

#include "api_broker/store/forwarding_store.hpp"

namespace api_broker::service {
namespace {

// Holds the inner store, so that it is built before ForwardingStore takes a reference to it.
struct OwnsStore {
  std::unique_ptr<store::EventStore> owned;
};

class CommitTimingStore final : private OwnsStore, public store::ForwardingStore {
 public:
  CommitTimingStore(std::unique_ptr<store::EventStore> inner, Metrics& metrics, Writer writer)
      : OwnsStore{std::move(inner)}, ForwardingStore(*owned), metrics_(metrics), writer_(writer) {}

  // append() is a batch of one (EventStore's default), so it is measured here too.
  Result<std::vector<events::EventId>> append_batch(
      std::span<const events::NewEvent> batch) override {
    return timed(batch.size(), [&] { return inner().append_batch(batch); });
  }
  Result<std::vector<events::EventId>> append_batch_fenced(std::span<const events::NewEvent> batch,
                                                           const store::Fence& fence) override {
    return timed(batch.size(), [&] { return inner().append_batch_fenced(batch, fence); });
  }

 private:
  // Reports commits that succeeded: a failed one committed nothing (or nothing known).
  template <class Commit>
  auto timed(std::size_t events, Commit commit) -> decltype(commit()) {
    const auto start = std::chrono::steady_clock::now();
    auto result = commit();
    if (result) {
      metrics_.observe_commit(
          writer_, events,
          std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start));
    }
    return result;
  }

  Metrics& metrics_;
  Writer writer_;
};

}  // namespace

std::unique_ptr<store::EventStore> measure_commits(std::unique_ptr<store::EventStore> inner,
                                                   Metrics& metrics, Writer writer) {
  return std::make_unique<CommitTimingStore>(std::move(inner), metrics, writer);
}

broker::StoreOpener measure_commits(broker::StoreOpener open, Metrics& metrics, Writer writer) {
  return
      [open = std::move(open), &metrics, writer]() -> Result<std::unique_ptr<store::EventStore>> {
        auto opened = open();
        if (!opened) return fail(opened.error());
        return measure_commits(std::move(*opened), metrics, writer);
      };
}

}  // namespace api_broker::service
