// --log-format json (src/cli/log_format.*): every line one valid JSON object, with the
// logging thread's LogFields as members.
#include "log_format.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <nlohmann/json.hpp>

#include <string>

#include "api_broker/log_fields.hpp"

namespace api_broker::cli {
namespace {

std::string format(std::string_view message) {
  JsonLogFormatter formatter;
  spdlog::memory_buf_t out;
  const spdlog::details::log_msg msg(spdlog::string_view_t("processor"), spdlog::level::debug,
                                     spdlog::string_view_t(message.data(), message.size()));
  formatter.format(msg, out);
  return {out.data(), out.size()};
}

TEST(JsonLogFormatter, WritesOneObjectALineWithTheFieldsInScope) {
  // Given fields set around a log call
  const LogFields fields({{"event_id", std::int64_t{7}}, {"class", std::string("request")}});
  // When a message with quotes, a newline and a byte that is not UTF-8 is formatted
  const std::string line = format("read {\"a\":\"b\"}\nnext \xff");
  // Then the line is one JSON object and ends with a newline
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["level"], "debug");
  EXPECT_EQ(json["logger"], "processor");
  EXPECT_EQ(json["message"], "read {\"a\":\"b\"}\nnext \xef\xbf\xbd");
  EXPECT_EQ(json["event_id"], 7);
  EXPECT_EQ(json["class"], "request");
  EXPECT_THAT(json["time"].get<std::string>(), ::testing::EndsWith("Z"));
}

TEST(JsonLogFormatter, FieldsEndWithTheirScope) {
  { const LogFields fields({{"request_id", std::int64_t{3}}}); }
  EXPECT_FALSE(nlohmann::json::parse(format("x")).contains("request_id"));
}

TEST(UseLogFormat, RefusesAnUnknownFormat) {
  EXPECT_TRUE(use_log_format("text"));
  const auto bad = use_log_format("xml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "--log-format must be text or json, not 'xml'");
}

}  // namespace
}  // namespace api_broker::cli
