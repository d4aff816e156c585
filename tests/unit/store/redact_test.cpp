// redact_password: what every backend prints instead of a connection string's password.

#include "api_broker/store/redact.hpp"

#include <gtest/gtest.h>

#include <string>

namespace api_broker {
namespace {

TEST(RedactPassword, HidesPasswordsInUrisAndConninfo) {
  using store::redact_password;
  EXPECT_EQ(redact_password("postgresql://bob:s3cret@db.example:5432/events"),
            "postgresql://bob:***@db.example:5432/events");
  EXPECT_EQ(redact_password("postgresql://bob@db/events?password=s3cret&sslmode=require"),
            "postgresql://bob@db/events?password=***&sslmode=require");
  EXPECT_EQ(redact_password("host=db password = 's3 cr\\'et' user=bob"),
            "host=db password = *** user=bob");
  EXPECT_EQ(redact_password("host=db PASSWORD=s3cret"), "host=db PASSWORD=***");
  EXPECT_EQ(redact_password("postgresql://db/events"), "postgresql://db/events");
  EXPECT_EQ(redact_password("password authentication failed for user \"bob\""),
            "password authentication failed for user \"bob\"");
}

// Found by fuzz/pg_text.cpp: a quoted value ended at the first quote, so the quote of a later
// password='...' closed an earlier value and the later password was shown.
TEST(RedactPassword, AQuoteInsideAValueDoesNotEndItEarly) {
  using store::redact_password;
  const std::string text = "password=\n'; host=db password='Pw-s3cret' user=u";
  EXPECT_EQ(redact_password(text).find("s3cret"), std::string::npos) << redact_password(text);
  EXPECT_EQ(redact_password("password='it''s' user=bob"), "password=*** user=bob");
  EXPECT_EQ(redact_password("a password='x'"), "a password=***");
}

}  // namespace
}  // namespace api_broker
