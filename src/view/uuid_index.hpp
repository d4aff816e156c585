#pragma once
// External UUID -> a request's position: an open-addressing hash table of positions (4 bytes
// a slot, at most half full); the UUIDs themselves stay in the requests' records, read back
// through `uuid_at`.

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "api_broker/events/uuid.hpp"

namespace api_broker::view {

class UuidIndex {
 public:
  using UuidAt = std::function<const events::Uuid&(std::uint32_t position)>;
  explicit UuidIndex(UuidAt uuid_at) : uuid_at_(std::move(uuid_at)) {}

  // False (and nothing changes) when `uuid` is already indexed.
  bool insert(const events::Uuid& uuid, std::uint32_t position);
  [[nodiscard]] std::optional<std::uint32_t> find(const events::Uuid& uuid) const;
  [[nodiscard]] std::size_t memory_bytes() const { return slots_.capacity() * sizeof(slots_[0]); }

 private:
  void rehash(std::size_t slots);
  void place(std::uint32_t slot_value);

  UuidAt uuid_at_;
  std::vector<std::uint32_t> slots_;  // position + 1; 0 = empty
  std::size_t size_ = 0;
};

}  // namespace api_broker::view
