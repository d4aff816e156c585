// PositionSet against a std::set: the same members, the same next() and previous().

#include "position_set.hpp"

#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <set>

namespace api_broker::view {
namespace {

std::optional<std::uint32_t> expected_next(const std::set<std::uint32_t>& set, std::uint32_t from) {
  const auto it = set.lower_bound(from);
  if (it == set.end()) return std::nullopt;
  return *it;
}

std::optional<std::uint32_t> expected_previous(const std::set<std::uint32_t>& set,
                                               std::uint32_t from) {
  const auto it = set.upper_bound(from);
  if (it == set.begin()) return std::nullopt;
  return *std::prev(it);
}

TEST(PositionSet, EmptyHasNoNext) {
  const PositionSet set;
  EXPECT_FALSE(set.next(0));
  EXPECT_FALSE(set.next(1'000'000));
  EXPECT_FALSE(set.previous(0));
  EXPECT_FALSE(set.previous(1'000'000));
  EXPECT_FALSE(set.contains(5));
}

TEST(PositionSet, NextAcrossWordsAndSummaries) {
  PositionSet set;
  for (const std::uint32_t p : {0U, 63U, 64U, 4095U, 4096U, 300'000U}) set.insert(p);
  EXPECT_EQ(set.next(0), 0U);
  EXPECT_EQ(set.next(1), 63U);
  EXPECT_EQ(set.next(65), 4095U);
  EXPECT_EQ(set.next(4097), 300'000U);
  EXPECT_FALSE(set.next(300'001));
  set.erase(4095);
  set.erase(4096);
  EXPECT_EQ(set.next(65), 300'000U);
  set.erase(300'000);
  EXPECT_FALSE(set.next(65));
  set.erase(7'000'000);  // never inserted: nothing happens
}

TEST(PositionSet, PreviousAcrossWordsAndSummaries) {
  PositionSet set;
  for (const std::uint32_t p : {0U, 63U, 64U, 4095U, 4096U, 300'000U}) set.insert(p);
  EXPECT_EQ(set.previous(4'000'000), 300'000U);
  EXPECT_EQ(set.previous(300'000), 300'000U);
  EXPECT_EQ(set.previous(299'999), 4096U);
  EXPECT_EQ(set.previous(4095), 4095U);
  EXPECT_EQ(set.previous(4094), 64U);
  EXPECT_EQ(set.previous(63), 63U);
  EXPECT_EQ(set.previous(62), 0U);
  set.erase(0);
  EXPECT_FALSE(set.previous(62));
  set.erase(63);
  set.erase(64);
  EXPECT_FALSE(set.previous(4094));
}

TEST(PositionSet, MatchesAStdSetUnderRandomChanges) {
  std::mt19937 random(12);
  PositionSet set;
  std::set<std::uint32_t> model;
  std::uniform_int_distribution<std::uint32_t> position(0, 400'000);
  for (int i = 0; i < 20'000; ++i) {
    const std::uint32_t p = position(random);
    if (random() % 3 == 0) {
      set.erase(p);
      model.erase(p);
    } else {
      set.insert(p);
      model.insert(p);
    }
    const std::uint32_t from = position(random);
    ASSERT_EQ(set.next(from), expected_next(model, from)) << "from " << from;
    ASSERT_EQ(set.previous(from), expected_previous(model, from)) << "from " << from;
  }
  for (const std::uint32_t p : model) ASSERT_TRUE(set.contains(p));
}

}  // namespace
}  // namespace api_broker::view
