// Result<T> and Errc (include/api_broker/result.hpp), and the assertion that stops the process.
#include "api_broker/result.hpp"

#include <gtest/gtest.h>

#include <string>

namespace api_broker {
namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return fail(Errc::invalid_input, "odd");
  return n / 2;
}

TEST(Result, HoldsAValueOrAnError) {
  const auto value = half(4);
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, 2);
  EXPECT_EQ(value.value_or(-1), 2);

  const auto error = half(3);
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, Errc::invalid_input);
  EXPECT_EQ(error.error().message, "odd");
  EXPECT_EQ(error.value_or(-1), -1);
}

TEST(Result, AnErrorMovesOnWithItsCodeAndMessage) {
  const auto outer = [](int n) -> Result<std::string> {
    auto inner = half(n);
    if (!inner) return fail(std::move(inner).error());
    return std::to_string(*inner);
  };
  EXPECT_EQ(*outer(10), "5");
  EXPECT_EQ(outer(7).error().code, Errc::invalid_input);
}

TEST(Result, VoidIsSuccessUntilGivenAnError) {
  const Result<void> ok;
  EXPECT_TRUE(ok);
  const Result<void> failed = fail(Errc::unavailable, "down");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::unavailable);
}

TEST(Errc, EveryCodeHasAName) {
  for (const Errc code : {Errc::duplicate, Errc::not_found, Errc::unavailable, Errc::corrupt,
                          Errc::invalid_input, Errc::unsupported, Errc::cancelled, Errc::fenced}) {
    EXPECT_NE(std::string(to_string(code)), "unknown");
  }
}

TEST(AssertDeathTest, AReadOfTheMissingValueStopsTheProcessSayingWhere) {
  EXPECT_DEATH((void)*half(3), "internal error: assertion failed: has_value\\(\\)");
}

}  // namespace
}  // namespace api_broker
