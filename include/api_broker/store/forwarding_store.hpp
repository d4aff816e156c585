#pragma once
// An EventStore that hands every call to an inner one: the base of a decorator that changes
// a few calls (a test's scripted failures, a stall) and forwards the rest.

#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

class ForwardingStore : public EventStore {
 public:
  explicit ForwardingStore(EventStore& inner) : inner_(inner) {}

  Result<std::vector<events::EventId>> append_batch(
      std::span<const events::NewEvent> batch) override {
    return inner_.append_batch(batch);
  }
  Result<std::vector<events::EventId>> append_batch_fenced(std::span<const events::NewEvent> batch,
                                                           const Fence& fence) override {
    return inner_.append_batch_fenced(batch, fence);
  }
  Result<events::Envelope> get(events::EventId id) override { return inner_.get(id); }
  Result<events::EventId> resolve(const events::Uuid& uuid) override {
    return inner_.resolve(uuid);
  }
  Result<std::vector<events::Envelope>> read_after(events::EventId after,
                                                   std::size_t limit) override {
    return inner_.read_after(after, limit);
  }
  Result<events::EventId> last_id() override { return inner_.last_id(); }
  Result<void> wait_for_append(events::EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override {
    return inner_.wait_for_append(after, timeout, stop);
  }
  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    return inner_.load_checkpoint(name);
  }
  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    return inner_.save_checkpoint(name, value);
  }
  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override {
    return inner_.acquire_lease(name, owner, ttl);
  }
  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    return inner_.release_lease(name, owner);
  }
  Result<void> close() override { return inner_.close(); }

 protected:
  EventStore& inner() { return inner_; }

 private:
  EventStore& inner_;
};

}  // namespace api_broker::store
