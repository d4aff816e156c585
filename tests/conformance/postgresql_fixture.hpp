#pragma once
// A fresh PostgreSQL database per fixture, on the cluster that $API_BROKER_PG_URL names
// (scripts/pg.sh start prints it; scripts/test.sh exports it). Created in the constructor
// (CREATE DATABASE api_broker_test_<random>), dropped in the destructor. Without the
// variable every test that uses it is skipped, saying why.

#include <string>
#include <vector>

#include "api_broker/store/postgresql_store.hpp"
#include "conformance/store_backends.hpp"

namespace api_broker::testing {

// The variable naming the cluster: a URL to a database that may CREATE DATABASE.
inline constexpr const char* postgres_url_variable = "API_BROKER_PG_URL";

class PostgresFixture final : public StoreFixture {
 public:
  PostgresFixture();
  ~PostgresFixture() override;
  PostgresFixture(const PostgresFixture&) = delete;
  PostgresFixture& operator=(const PostgresFixture&) = delete;

  Result<std::unique_ptr<store::EventStore>> open() override;
  bool shared_across_processes() const override { return true; }
  std::string unavailable_reason() const override { return unavailable_; }

  // Options that reach this fixture's database; tests may change them before opening.
  store::PostgresOptions options() const;
  const std::string& database() const { return database_; }
  const std::string& admin_url() const { return admin_url_; }

  // Runs `sql` (no parameters: test setup only) on this fixture's database, or on the admin
  // database with `on_admin`; the first column of each row, or the server's error.
  Result<std::vector<std::string>> sql(const std::string& sql, bool on_admin = false) const;

 private:
  std::string admin_url_;
  std::string database_;
  std::string unavailable_;
  std::string setup_error_;  // creating the database failed: open() fails with it
};

}  // namespace api_broker::testing
