#include "api_broker/store/memory_store.hpp"

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::store {

MemoryStore::MemoryStore(std::shared_ptr<MemoryLog> log) : log_(std::move(log)) {}

Result<std::vector<EventId>> MemoryStore::append_batch(std::span<const NewEvent> batch) {
  return append_events(batch, nullptr);
}

Result<std::vector<EventId>> MemoryStore::append_batch_fenced(std::span<const NewEvent> batch,
                                                              const Fence& fence) {
  return append_events(batch, &fence);
}

Result<std::vector<EventId>> MemoryStore::append_events(std::span<const NewEvent> batch,
                                                        const Fence* fence) {
  std::vector<EventId> ids;
  // The same bound as the persistent stores, on the same encoding.
  for (const NewEvent& event : batch) {
    if (events::encode_payload(event.event).size() > limits::payload_bytes_max) {
      return fail(Errc::invalid_input,
                  fmt::format("{} payload is larger than {} bytes", events::class_name(event.event),
                              limits::payload_bytes_max));
    }
  }
  {
    std::lock_guard lock(log_->mutex);
    if (fence != nullptr) {
      const auto held = log_->leases.find(fence->lease);
      const LeaseHolder holder = held != log_->leases.end() ? held->second : LeaseHolder{};
      if (!holds(holder, *fence)) return fail(lease_lost(*fence, holder));
    }
    std::map<Uuid, EventId> added;
    for (const NewEvent& event : batch) {
      if (!event.external_uuid) continue;
      const auto existing = log_->uuids.find(*event.external_uuid);
      if (existing != log_->uuids.end() || added.count(*event.external_uuid) != 0) {
        const EventId id = existing != log_->uuids.end() ? existing->second : EventId{0};
        return fail(
            Errc::duplicate,
            fmt::format("duplicate event identifier {}", events::to_string(*event.external_uuid)),
            events::to_int(id));
      }
      added.emplace(*event.external_uuid, EventId{0});
    }
    const TimePoint now = log_->clock();
    for (const NewEvent& event : batch) {
      const EventId id{log_->events.size() + 1};
      log_->events.push_back(
          Envelope{id, now, event.causation_id, event.external_uuid, event.event});
      if (event.external_uuid) log_->uuids.emplace(*event.external_uuid, id);
      ids.push_back(id);
    }
  }
  log_->appended.notify_all();
  return ids;
}

Result<Envelope> MemoryStore::get(EventId id) {
  std::lock_guard lock(log_->mutex);
  const auto index = events::to_int(id);
  if (index == 0 || index > log_->events.size()) {
    return fail(Errc::not_found, fmt::format("no event with id {}", index), index);
  }
  return log_->events[index - 1];
}

Result<EventId> MemoryStore::resolve(const Uuid& uuid) {
  std::lock_guard lock(log_->mutex);
  const auto it = log_->uuids.find(uuid);
  if (it == log_->uuids.end()) {
    return fail(Errc::not_found, "no event with external UUID " + events::to_string(uuid));
  }
  return it->second;
}

Result<std::vector<Envelope>> MemoryStore::read_after(EventId after, std::size_t limit) {
  std::lock_guard lock(log_->mutex);
  std::vector<Envelope> batch;
  for (auto i = events::to_int(after); i < log_->events.size() && batch.size() < limit; ++i) {
    batch.push_back(log_->events[i]);
  }
  return batch;
}

Result<EventId> MemoryStore::last_id() {
  std::lock_guard lock(log_->mutex);
  return EventId{log_->events.size()};
}

Result<void> MemoryStore::wait_for_append(EventId after, std::chrono::milliseconds timeout,
                                          const StopSignal& stop) {
  // A condition variable cannot wait on the stop descriptor: wait in short slices.
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(log_->mutex);
  while (log_->events.size() <= events::to_int(after) && !stop.stop_requested()) {
    const auto slice =
        std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
    if (log_->appended.wait_until(lock, slice) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= until) {
      break;
    }
  }
  return {};
}

Result<std::optional<std::string>> MemoryStore::load_checkpoint(std::string_view name) {
  std::lock_guard lock(log_->mutex);
  const auto it = log_->checkpoints.find(name);
  if (it == log_->checkpoints.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<void> MemoryStore::save_checkpoint(std::string_view name, std::string_view value) {
  std::lock_guard lock(log_->mutex);
  log_->checkpoints.insert_or_assign(std::string(name), std::string(value));
  return {};
}

Result<LeaseHolder> MemoryStore::acquire_lease(std::string_view name, std::string_view owner,
                                               std::chrono::milliseconds ttl) {
  std::lock_guard lock(log_->mutex);
  const TimePoint now = log_->clock();
  auto it = log_->leases.find(name);
  if (it == log_->leases.end()) it = log_->leases.emplace(std::string(name), LeaseHolder{}).first;
  LeaseHolder& holder = it->second;
  if (holder.owner == owner) {
    holder.expires = now + ttl;
  } else if (holder.owner.empty() || holder.expires <= now) {
    holder = LeaseHolder{std::string(owner), now + ttl, holder.epoch + 1};
  }
  return holder;
}

Result<void> MemoryStore::release_lease(std::string_view name, std::string_view owner) {
  std::lock_guard lock(log_->mutex);
  const auto it = log_->leases.find(name);
  if (it != log_->leases.end() && it->second.owner == owner) {
    it->second.owner.clear();
    it->second.expires = TimePoint{};
  }
  return {};
}

Result<void> MemoryStore::close() { return {}; }

}  // namespace api_broker::store
