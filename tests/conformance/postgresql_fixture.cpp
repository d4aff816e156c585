#include "conformance/postgresql_fixture.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>

#include "api_broker/events/uuid.hpp"
#include "api_broker/store/redact.hpp"
#include "postgresql_support.hpp"

namespace api_broker::testing {
namespace {

using store::pg::one_line;

Result<std::vector<std::string>> run_sql(const std::string& url, const std::string& database,
                                         const std::string& sql) {
  const char* keywords[] = {"dbname", "dbname", nullptr};
  const char* values[] = {url.c_str(), database.c_str(), nullptr};
  store::pg::Connection connection(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return fail(Errc::unavailable,
                store::redact_password(one_line("cannot connect to " + url + ": " +
                                                PQerrorMessage(connection.get()))));
  }
  store::pg::QueryResult result(PQexec(connection.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return fail(Errc::unavailable, one_line(sql + ": " + PQresultErrorMessage(result.get())));
  }
  std::vector<std::string> rows;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    rows.emplace_back(PQgetvalue(result.get(), row, 0));
  }
  return rows;
}

}  // namespace

PostgresFixture::PostgresFixture() {
  const char* url = std::getenv(postgres_url_variable);
  if (url == nullptr || *url == '\0') {
    unavailable_ = std::string(postgres_url_variable) +
                   " is not set (scripts/pg.sh start prints it; scripts/test.sh sets it)";
    return;
  }
  admin_url_ = url;
  database_ = "api_broker_test_" + events::to_string(events::random_uuid()).substr(0, 8) +
              events::to_string(events::random_uuid()).substr(0, 8);
  auto created = run_sql(admin_url_, "",
                         "CREATE DATABASE " + database_ + " ENCODING 'UTF8' TEMPLATE template0");
  if (!created) setup_error_ = created.error().message;
}

PostgresFixture::~PostgresFixture() {
  if (database_.empty() || !setup_error_.empty()) return;
  // FORCE: a forked child's session may not have ended yet.
  (void)run_sql(admin_url_, "", "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
}

store::PostgresOptions PostgresFixture::options() const {
  return store::PostgresOptions{.url = admin_url_, .database = database_};
}

Result<std::unique_ptr<store::EventStore>> PostgresFixture::open() {
  if (!unavailable_.empty()) return fail(Errc::unavailable, unavailable_);
  if (!setup_error_.empty()) return fail(Errc::unavailable, setup_error_);
  return store::open_postgres_store(options());
}

Result<std::vector<std::string>> PostgresFixture::sql(const std::string& text,
                                                      bool on_admin) const {
  if (!unavailable_.empty()) return fail(Errc::unavailable, unavailable_);
  return run_sql(admin_url_, on_admin ? "" : database_, text);
}

}  // namespace api_broker::testing
