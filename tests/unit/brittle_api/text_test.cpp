#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>

#include <string>

#include "text.hpp"

namespace api_broker::brittle_api::detail {
namespace {

TEST(ReverseCodePoints, ReversesAscii) {
  EXPECT_EQ(reverse_code_points(""), "");
  EXPECT_EQ(reverse_code_points("a"), "a");
  EXPECT_EQ(reverse_code_points("hello world"), "dlrow olleh");
}

TEST(ReverseCodePoints, KeepsMultiByteSequencesWhole) {
  // a, n with tilde (2 bytes), euro sign (3 bytes), grinning face (4 bytes)
  EXPECT_EQ(reverse_code_points("a\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80"),
            "\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xB1"
            "a");
  EXPECT_EQ(reverse_code_points("\xE6\x97\xA5\xE6\x9C\xAC"), "\xE6\x9C\xAC\xE6\x97\xA5");
}

TEST(ReverseCodePoints, ReversesInvalidBytesOneByOne) {
  EXPECT_EQ(reverse_code_points("\xFF"), "\xFF");
  EXPECT_EQ(reverse_code_points("a\xFF"
                                "b"),
            "b\xFF"
            "a");
  // A truncated euro sign is two stray bytes.
  EXPECT_EQ(reverse_code_points("x\xE2\x82"), "\x82\xE2x");
  // Overlong encoding of '/', an encoded surrogate, a code point above U+10FFFF.
  EXPECT_EQ(reverse_code_points("\xC0\xAF"), "\xAF\xC0");
  EXPECT_EQ(reverse_code_points("\xED\xA0\x80"), "\x80\xA0\xED");
  EXPECT_EQ(reverse_code_points("\xF4\x90\x80\x80"), "\x80\x80\x90\xF4");
  // A stray continuation byte next to a valid sequence.
  EXPECT_EQ(reverse_code_points("\x80\xC3\xB1"), "\xC3\xB1\x80");
}

TEST(ReverseCodePoints, KeepsNulBytesAndLength) {
  const std::string text("a\0b", 3);
  EXPECT_EQ(reverse_code_points(text), std::string("b\0a", 3));
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte.push_back(static_cast<char>(byte));
  const std::string reversed = reverse_code_points(every_byte);
  EXPECT_EQ(reversed.size(), every_byte.size());
  EXPECT_EQ(reverse_code_points(reverse_code_points("a\xC3\xB1\xFF")), "a\xC3\xB1\xFF");
}

TEST(Utf8SequenceBytes, ClassifiesLeadBytes) {
  EXPECT_EQ(utf8_sequence_bytes("A", 0), 1U);
  EXPECT_EQ(utf8_sequence_bytes("\xC3\xB1", 0), 2U);
  EXPECT_EQ(utf8_sequence_bytes("\xE2\x82\xAC", 0), 3U);
  EXPECT_EQ(utf8_sequence_bytes("\xF0\x9F\x98\x80", 0), 4U);
  EXPECT_EQ(utf8_sequence_bytes("\xF0\x9F\x98", 0), 0U);  // truncated at the end
  EXPECT_EQ(utf8_sequence_bytes("\xE0\x80\x80", 0), 0U);  // overlong
  EXPECT_EQ(utf8_sequence_bytes("\xBF", 0), 0U);
}

TEST(AppendJsonString, EscapesAndReplacesInvalidBytes) {
  std::string out;
  append_json_string(out, "a\"b\\c\nd\x01\xC3\xB1\xFF");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\xC3\xB1\\ufffd\"");
}

}  // namespace
}  // namespace api_broker::brittle_api::detail
