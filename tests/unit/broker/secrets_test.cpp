// Secret references in header values, resolved when a call is sent: the value goes into the
// call, and an error names the variable or the file, never a value.

#include "secrets.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace api_broker::broker {
namespace {

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("API_BROKER_SECRETS_TEST", "t0ken-value", 1);
    ::unsetenv("API_BROKER_SECRETS_TEST_UNSET");
    std::ofstream(file_) << "file-value\n";
  }
  void TearDown() override {
    ::unsetenv("API_BROKER_SECRETS_TEST");
    std::filesystem::remove(file_);
  }
  const std::string file_ = (std::filesystem::path(::testing::TempDir()) /
                             ("secret-" + std::to_string(::getpid()) + ".txt"))
                                .string();
};

TEST_F(Secrets, ReferencesAreResolvedAndOtherValuesKept) {
  const std::vector<events::HeaderField> headers{
      {.name = "Authorization", .value = "env:API_BROKER_SECRETS_TEST"},
      {.name = "X-Key", .value = "file:" + file_},
      {.name = "X-Plain", .value = "Bearer env:NOT_A_REFERENCE"}};
  auto resolved = resolve_headers(headers);
  ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
  EXPECT_EQ(*resolved, (std::vector<http::Header>{{"Authorization", "t0ken-value"},
                                                  {"X-Key", "file-value"},
                                                  {"X-Plain", "Bearer env:NOT_A_REFERENCE"}}));
}

TEST_F(Secrets, ErrorsNameTheReferenceNeverAValue) {
  auto unset = resolve_headers(std::vector<events::HeaderField>{
      {.name = "A", .value = "env:API_BROKER_SECRETS_TEST_UNSET"}});
  ASSERT_FALSE(unset.has_value());
  EXPECT_EQ(unset.error().code, Errc::invalid_input);
  EXPECT_EQ(unset.error().message,
            "header A: environment variable API_BROKER_SECRETS_TEST_UNSET is not set");
  auto missing = resolve_headers(
      std::vector<events::HeaderField>{{.name = "B", .value = "file:/nonexistent/s"}});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("cannot read secret file /nonexistent/s"),
            std::string::npos)
      << missing.error().message;
  std::ofstream(file_) << "line1\nline2\n";
  auto split =
      resolve_headers(std::vector<events::HeaderField>{{.name = "C", .value = "file:" + file_}});
  ASSERT_FALSE(split.has_value());
  EXPECT_EQ(split.error().message.find("line"), std::string::npos) << "no value in the message";
  EXPECT_NE(split.error().message.find("CR, LF or NUL"), std::string::npos);
  std::ofstream(file_) << std::string(secret_file_bytes_max + 1, 'x');
  auto large =
      resolve_headers(std::vector<events::HeaderField>{{.name = "D", .value = "file:" + file_}});
  ASSERT_FALSE(large.has_value());
  EXPECT_NE(large.error().message.find("larger than"), std::string::npos);
}

}  // namespace
}  // namespace api_broker::broker
