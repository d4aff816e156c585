#pragma once
// A set of positions (0, 1, 2, ...: a request's place in the view) that finds the next member
// at or after (or the last at or before) a position in a few word operations: a bitmap with two
// summary levels, each bit of a level saying whether a word below it has any bit set. About n/8
// bytes for positions below n; insert and erase are O(1).

#include <cstdint>
#include <optional>
#include <vector>

namespace api_broker::view {

class PositionSet {
 public:
  void insert(std::uint32_t position);
  void erase(std::uint32_t position);
  [[nodiscard]] bool contains(std::uint32_t position) const;
  // The smallest member >= `from`.
  [[nodiscard]] std::optional<std::uint32_t> next(std::uint32_t from) const;
  // The largest member <= `from` (for listings newest first).
  [[nodiscard]] std::optional<std::uint32_t> previous(std::uint32_t from) const;
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  std::vector<std::uint64_t> bits_;     // bit p: position p is a member
  std::vector<std::uint64_t> words_;    // bit w: bits_[w] != 0
  std::vector<std::uint64_t> summary_;  // bit s: words_[s] != 0
};

}  // namespace api_broker::view
