#include "uuid_index.hpp"

#include <cstring>

namespace api_broker::view {
namespace {

std::uint64_t hash(const events::Uuid& uuid) {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::memcpy(&low, uuid.bytes.data(), sizeof low);
  std::memcpy(&high, uuid.bytes.data() + sizeof low, sizeof high);
  // splitmix64's finalizer over both halves: sequential UUIDs spread too.
  std::uint64_t x = low ^ (high * 0x9E3779B97F4A7C15ULL);
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

}  // namespace

bool UuidIndex::insert(const events::Uuid& uuid, std::uint32_t position) {
  if (find(uuid)) return false;
  if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 1024 : slots_.size() * 2);
  place(position + 1);
  ++size_;
  return true;
}

std::optional<std::uint32_t> UuidIndex::find(const events::Uuid& uuid) const {
  if (slots_.empty()) return std::nullopt;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = hash(uuid) & mask;; slot = (slot + 1) & mask) {
    const std::uint32_t value = slots_[slot];
    if (value == 0) return std::nullopt;
    if (uuid_at_(value - 1) == uuid) return value - 1;
  }
}

void UuidIndex::rehash(std::size_t slots) {
  std::vector<std::uint32_t> old = std::move(slots_);
  slots_.assign(slots, 0);
  for (const std::uint32_t value : old) {
    if (value != 0) place(value);
  }
}

void UuidIndex::place(std::uint32_t slot_value) {
  const std::size_t mask = slots_.size() - 1;
  std::size_t slot = hash(uuid_at_(slot_value - 1)) & mask;
  while (slots_[slot] != 0) slot = (slot + 1) & mask;
  slots_[slot] = slot_value;
}

}  // namespace api_broker::view
