#pragma once
// The store as one simulated processor sees it: the shared in-memory store, with the faults of
// the run injected into the calls its store worker makes (commits that fail, commits that
// succeed but report a failure, failed reads, renewals, checkpoint saves and loads). Every
// injected fault is counted. Not thread-safe, as the simulation.

#include <cstdint>

#include "api_broker/store/event_store.hpp"
#include "api_broker/store/memory_store.hpp"
#include "random.hpp"

namespace api_broker::sim {

// The store's misbehaviour in one run; drawn from the seed by draw_store_faults().
struct StoreFaults {
  double commit_fails = 0;           // chance that a commit or a renewal fails (it is retried)
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

class FaultyStore final : public store::EventStore {
 public:
  // `store`, `random` and `faults_injected` outlive this object.
  FaultyStore(store::MemoryStore& store, Random& random, const StoreFaults& faults,
              std::uint64_t& faults_injected)
      : store_(store), random_(random), faults_(faults), injected_(faults_injected) {}

  Result<std::vector<events::EventId>> append_batch(
      std::span<const events::NewEvent> batch) override;
  Result<std::vector<events::EventId>> append_batch_fenced(std::span<const events::NewEvent> batch,
                                                           const store::Fence& fence) override;
  Result<events::Envelope> get(events::EventId id) override;
  Result<events::EventId> resolve(const events::Uuid& uuid) override {
    return store_.resolve(uuid);
  }
  Result<std::vector<events::Envelope>> read_after(events::EventId after,
                                                   std::size_t limit) override;
  Result<events::EventId> last_id() override { return store_.last_id(); }
  // The simulated worker never blocks: its runner waits on simulated time instead.
  Result<void> wait_for_append(events::EventId, std::chrono::milliseconds,
                               const StopSignal&) override {
    return {};
  }
  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    return store_.load_checkpoint(name);
  }
  Result<void> save_checkpoint(std::string_view name, std::string_view value) override;
  Result<store::LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                           std::chrono::milliseconds ttl) override;
  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    return store_.release_lease(name, owner);
  }
  // The memory store is shared by every processor of the run: it stays open.
  Result<void> close() override { return {}; }

 private:
  // Whether a fault with chance `p` happens now; counted if so.
  bool injected(double p);

  store::MemoryStore& store_;
  Random& random_;
  const StoreFaults& faults_;
  std::uint64_t& injected_;
};

}  // namespace api_broker::sim
