#include "position_set.hpp"

#include <algorithm>
#include <bit>

namespace api_broker::view {
namespace {

constexpr std::uint64_t bit(std::uint64_t index) { return std::uint64_t{1} << (index & 63U); }
// The bits of a word at and above `index % 64`.
constexpr std::uint64_t from_bit(std::uint64_t index) { return ~std::uint64_t{0} << (index & 63U); }

// The bits of a word at and below `index % 64`.
constexpr std::uint64_t to_bit(std::uint64_t index) {
  return ~std::uint64_t{0} >> (63U - (index & 63U));
}

void grow(std::vector<std::uint64_t>& level, std::size_t words) {
  if (level.size() < words) level.resize(words, 0);
}

// The smallest set bit >= `from` in `level`, scanning its words.
std::optional<std::uint64_t> scan(const std::vector<std::uint64_t>& level, std::uint64_t from) {
  std::uint64_t word = from >> 6U;
  if (word >= level.size()) return std::nullopt;
  std::uint64_t bits = level[word] & from_bit(from);
  while (bits == 0) {
    if (++word >= level.size()) return std::nullopt;
    bits = level[word];
  }
  return (word << 6U) + static_cast<std::uint64_t>(std::countr_zero(bits));
}

// The smallest set bit >= `from` within the word of `level` that holds `from`.
std::optional<std::uint64_t> in_word(const std::vector<std::uint64_t>& level, std::uint64_t from) {
  const std::uint64_t word = from >> 6U;
  if (word >= level.size()) return std::nullopt;
  const std::uint64_t bits = level[word] & from_bit(from);
  if (bits == 0) return std::nullopt;
  return (word << 6U) + static_cast<std::uint64_t>(std::countr_zero(bits));
}

// The lowest set bit of word `word` of `level` (which is not 0).
std::uint64_t lowest(const std::vector<std::uint64_t>& level, std::uint64_t word) {
  return (word << 6U) + static_cast<std::uint64_t>(std::countr_zero(level[word]));
}

// The largest set bit <= `from` in `level` (`from` within it), scanning its words down.
std::optional<std::uint64_t> scan_down(const std::vector<std::uint64_t>& level,
                                       std::uint64_t from) {
  std::uint64_t word = from >> 6U;
  std::uint64_t bits = level[word] & to_bit(from);
  while (bits == 0) {
    if (word == 0) return std::nullopt;
    bits = level[--word];
  }
  return (word << 6U) + 63U - static_cast<std::uint64_t>(std::countl_zero(bits));
}

// The largest set bit <= `from` within the word of `level` that holds `from` (within it).
std::optional<std::uint64_t> in_word_down(const std::vector<std::uint64_t>& level,
                                          std::uint64_t from) {
  const std::uint64_t bits = level[from >> 6U] & to_bit(from);
  if (bits == 0) return std::nullopt;
  return ((from >> 6U) << 6U) + 63U - static_cast<std::uint64_t>(std::countl_zero(bits));
}

// The highest set bit of word `word` of `level` (which is not 0).
std::uint64_t highest(const std::vector<std::uint64_t>& level, std::uint64_t word) {
  return (word << 6U) + 63U - static_cast<std::uint64_t>(std::countl_zero(level[word]));
}

}  // namespace

void PositionSet::insert(std::uint32_t position) {
  const std::uint64_t word = position >> 6U;
  const std::uint64_t summary = word >> 6U;
  grow(bits_, word + 1);
  grow(words_, summary + 1);
  grow(summary_, (summary >> 6U) + 1);
  bits_[word] |= bit(position);
  words_[summary] |= bit(word);
  summary_[summary >> 6U] |= bit(summary);
}

void PositionSet::erase(std::uint32_t position) {
  const std::uint64_t word = position >> 6U;
  if (word >= bits_.size()) return;
  bits_[word] &= ~bit(position);
  if (bits_[word] != 0) return;
  const std::uint64_t summary = word >> 6U;
  words_[summary] &= ~bit(word);
  if (words_[summary] != 0) return;
  summary_[summary >> 6U] &= ~bit(summary);
}

bool PositionSet::contains(std::uint32_t position) const {
  const std::uint64_t word = position >> 6U;
  return word < bits_.size() && (bits_[word] & bit(position)) != 0;
}

std::optional<std::uint32_t> PositionSet::next(std::uint32_t from) const {
  if (auto found = in_word(bits_, from)) return static_cast<std::uint32_t>(*found);
  // The next word with a member, after from's word.
  const std::uint64_t after_word = (std::uint64_t{from} >> 6U) + 1;
  std::optional<std::uint64_t> word = in_word(words_, after_word);
  if (!word) {
    const std::uint64_t after_summary = (after_word >> 6U) + 1;
    const auto summary = scan(summary_, after_summary);
    if (!summary) return std::nullopt;
    word = lowest(words_, *summary);
  }
  return static_cast<std::uint32_t>(lowest(bits_, *word));
}

std::optional<std::uint32_t> PositionSet::previous(std::uint32_t from) const {
  if (bits_.empty()) return std::nullopt;
  // Beyond the bitmap: from its last bit (words_ and summary_ cover every word of bits_).
  const std::uint64_t at = std::min<std::uint64_t>(from, bits_.size() * 64 - 1);
  if (auto found = in_word_down(bits_, at)) return static_cast<std::uint32_t>(*found);
  // The last word with a member, before at's word.
  const std::uint64_t at_word = at >> 6U;
  if (at_word == 0) return std::nullopt;
  std::optional<std::uint64_t> word = in_word_down(words_, at_word - 1);
  if (!word) {
    const std::uint64_t at_summary = (at_word - 1) >> 6U;
    if (at_summary == 0) return std::nullopt;
    const auto summary = scan_down(summary_, at_summary - 1);
    if (!summary) return std::nullopt;
    word = highest(words_, *summary);
  }
  return static_cast<std::uint32_t>(highest(bits_, *word));
}

std::size_t PositionSet::memory_bytes() const {
  return (bits_.capacity() + words_.capacity() + summary_.capacity()) * sizeof(std::uint64_t);
}

}  // namespace api_broker::view
