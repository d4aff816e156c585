#pragma once
// A fresh MongoDB database per fixture, on the server that $API_BROKER_MONGODB_URL names:
// a real MongoDB wherever one exists, else the wire-protocol stand-in that
// scripts/mongo-standin.sh starts (scripts/test.sh exports the variable). Named
// api_broker_test_<random>, dropped in the destructor. Without the variable every test that
// uses it is skipped, saying why; against the stand-in, the tests say so on stderr.

#include <optional>
#include <string>
#include <utility>

#include "api_broker/store/mongo_store.hpp"
#include "conformance/store_backends.hpp"

namespace api_broker::testing {

// The variable naming the server: a mongodb:// URL of a user that may create databases.
inline constexpr const char* mongo_url_variable = "API_BROKER_MONGODB_URL";

class MongoFixture final : public StoreFixture {
 public:
  MongoFixture();
  ~MongoFixture() override;
  MongoFixture(const MongoFixture&) = delete;
  MongoFixture& operator=(const MongoFixture&) = delete;

  Result<std::unique_ptr<store::EventStore>> open() override;
  bool shared_across_processes() const override { return true; }
  std::string unavailable_reason() const override { return unavailable_; }

  // Options that reach this fixture's database; tests may change them before opening.
  store::MongoOptions options() const;
  const std::string& url() const { return url_; }
  const std::string& database() const { return database_; }
  // Whether the server is the stand-in (tests/mongo_standin), not MongoDB.
  bool standin() const { return standin_; }
  // The host and port when the URL names one server (mongodb://[user@]host[:port][/...]),
  // for tests that put a relay in front of it.
  std::optional<std::pair<std::string, int>> single_host() const;

  // Runs `json` (a command in extended JSON, e.g. {"find": "events"}) on this fixture's
  // database, or on `admin`; the reply as relaxed extended JSON, or the server's error.
  Result<std::string> command(const std::string& json, bool on_admin = false) const;

 private:
  std::string url_;
  std::string database_;
  std::string unavailable_;
  bool standin_ = false;
};

}  // namespace api_broker::testing
