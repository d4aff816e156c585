// The strict TOML reader behind --config (src/cli/toml_reader.*): what a file of options
// means, and the line a bad one names. Pure.
#include "toml_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace api_broker::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ReadToml, ReadsTablesKeysAndEveryKindOfValue) {
  // Given a file with global keys, a command's table and a nested command's table
  const auto entries = read_toml(
      "# global\n"
      "eventstore-db-path = \"/var/lib/api-broker/events.db\"  # a comment\n"
      "\n"
      "[serve]\n"
      "listen = '0.0.0.0:8080'\n"
      "process = true\n"
      "lease-ttl = 2.5\n"
      "in-flight-max = 1_000\n"
      "api-token = [\"a#b\", 'c',\n"
      "  \"d\\u00e9\",  # last\n"
      "]\n"
      "[target.set]\n"
      "url = \"http://x\"\r\n");
  // Then each entry has its table, key, values and line
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 7U);
  const auto& e = *entries;
  EXPECT_TRUE(e[0].table.empty());
  EXPECT_EQ(e[0].key, "eventstore-db-path");
  EXPECT_THAT(e[0].values, ElementsAre("/var/lib/api-broker/events.db"));
  EXPECT_EQ(e[0].line, 2U);
  EXPECT_THAT(e[1].table, ElementsAre("serve"));
  EXPECT_THAT(e[1].values, ElementsAre("0.0.0.0:8080"));
  EXPECT_TRUE(e[2].is_boolean);
  EXPECT_THAT(e[2].values, ElementsAre("true"));
  EXPECT_THAT(e[3].values, ElementsAre("2.5"));
  EXPECT_THAT(e[4].values, ElementsAre("1000"));
  EXPECT_TRUE(e[5].is_array);
  EXPECT_THAT(e[5].values, ElementsAre("a#b", "c", "d\xc3\xa9"));
  EXPECT_EQ(e[5].line, 9U);
  EXPECT_THAT(e[6].table, ElementsAre("target", "set"));
  EXPECT_EQ(e[6].line, 13U);
}

TEST(ReadToml, ADottedKeyJoinsItsTable) {
  const auto entries = read_toml("serve.listen = \"127.0.0.1:1\"\n");
  ASSERT_TRUE(entries);
  EXPECT_THAT(entries->front().table, ElementsAre("serve"));
  EXPECT_EQ(entries->front().key, "listen");
}

TEST(ReadToml, NamesTheLineOfWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"a = 1\nb 2\n", "line 2: expected '='"},
           {"a = \n", "line 1: expected a value"},
           {"a = hello\n", "line 1: 'hello' is not a value"},
           {"\n\na = \"open\n", "line 3: a string is not closed"},
           {"a = 1 2\n", "line 1: unexpected '2'"},
           {"[serve\n", "line 1: a table header ends with ']'"},
           {"[[x]]\n", "line 1: arrays of tables"},
           {"a = 1\na = 2\n", "line 2: key 'a' is given twice (first on line 1)"},
           {"[s]\n[s]\n", "line 2: table [s] is given twice"},
           {"a = {b = 1}\n", "inline tables"},
           {"a = [[1]]\n", "arrays in arrays"},
           {"a = [1 2]\n", "separated by ','"},
           {"a = \"\\q\"\n", "unknown escape"},
           {"a = \"\"\"x\"\"\"\n", "multi-line strings"},
       }) {
    const auto entries = read_toml(c.text);
    ASSERT_FALSE(entries) << c.text;
    EXPECT_THAT(entries.error().message, HasSubstr(c.says)) << c.text;
  }
}

TEST(ReadToml, AnEmptyFileHasNoEntries) {
  const auto entries = read_toml("# nothing\n\n");
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
}

}  // namespace
}  // namespace api_broker::cli
