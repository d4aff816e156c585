#pragma once
// An EventStore in memory, for tests and simulation. Several MemoryStore instances may share
// one MemoryLog (like several connections to one database, from several threads).

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

// The shared log behind MemoryStore instances; thread-safe.
class MemoryLog {
 public:
  std::mutex mutex;
  std::condition_variable appended;
  std::vector<Envelope> events;  // events[i].id == i + 1
  std::map<Uuid, EventId> uuids;
  std::map<std::string, std::string, std::less<>> checkpoints;
  std::map<std::string, LeaseHolder, std::less<>> leases;  // a free one has no owner
  // Gives events their created time and leases their expiry; the simulator sets its clock.
  std::function<TimePoint()> clock = utc_now;
};

class MemoryStore final : public EventStore {
 public:
  explicit MemoryStore(std::shared_ptr<MemoryLog> log = std::make_shared<MemoryLog>());

  Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) override;
  Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                   const Fence& fence) override;
  Result<Envelope> get(EventId id) override;
  Result<EventId> resolve(const Uuid& uuid) override;
  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override;
  Result<EventId> last_id() override;
  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override;
  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override;
  Result<void> save_checkpoint(std::string_view name, std::string_view value) override;
  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override;
  Result<void> release_lease(std::string_view name, std::string_view owner) override;
  Result<void> close() override;

  [[nodiscard]] const std::shared_ptr<MemoryLog>& log() const { return log_; }

 private:
  Result<std::vector<EventId>> append_events(std::span<const NewEvent> batch, const Fence* fence);

  std::shared_ptr<MemoryLog> log_;
};

}  // namespace api_broker::store
