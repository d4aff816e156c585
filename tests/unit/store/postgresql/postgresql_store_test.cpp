// What only the PostgreSQL backend has: connection errors, its schema, jsonb and reconnection.
// The EventStore contract itself (writer processes included) is in tests/conformance/.

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fmt/format.h>

#include <latch>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/postgresql_store.hpp"
#include "conformance/concurrent_writers.hpp"  // open_concurrently
#include "conformance/postgresql_fixture.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;
using events::EventId;
using events::NewEvent;
using store::EventStore;
using store::PostgresOptions;

// The role that scripts/pg.sh makes check passwords (scram-sha-256 in pg_hba.conf).
constexpr const char* password_role = "api_broker_password_test";
constexpr const char* role_password = "Correct-Horse-7";

NewEvent simple(std::string message) {
  return NewEvent{.event = events::Simple{std::move(message)}};
}

class PostgresqlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = fixture_.unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << "postgresql skipped: " << reason;
    }
  }
  std::unique_ptr<EventStore> open(PostgresOptions options) {
    auto store = store::open_postgres_store(options);
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }
  std::unique_ptr<EventStore> open() { return open(fixture_.options()); }
  // The cluster's port, from the admin URL (tests build URLs of their own).
  std::string port() {
    auto rows = fixture_.sql("SELECT current_setting('port')");
    EXPECT_TRUE(rows && rows->size() == 1);
    return rows && rows->size() == 1 ? rows->front() : "0";
  }

  PostgresFixture fixture_;
};

bool one_line(const std::string& text) { return text.find('\n') == std::string::npos; }

// --- opening: one clear line, no password ---

TEST_F(PostgresqlStoreTest, OpenReportsAnUnreachableServerOnOneLine) {
  auto store = store::open_postgres_store(PostgresOptions{.url = "postgresql://127.0.0.1:1/x"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_NE(store.error().message.find("127.0.0.1"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("refused"), std::string::npos) << store.error().message;
}

TEST_F(PostgresqlStoreTest, OpenReportsAMissingDatabase) {
  PostgresOptions options = fixture_.options();
  options.database = "api_broker_no_such_database";
  auto store = store::open_postgres_store(options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::rejected);  // waiting cannot fix it: not waited for
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_NE(store.error().message.find("\"api_broker_no_such_database\" does not exist"),
            std::string::npos)
      << store.error().message;
}

TEST_F(PostgresqlStoreTest, OpenReportsAWrongPasswordWithoutShowingIt) {
  // Concurrent tests may create the role at the same time: either creation is fine.
  ASSERT_TRUE(fixture_.sql(
      fmt::format("DO $$ BEGIN CREATE ROLE {} LOGIN PASSWORD '{}'; "
                  "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                  password_role, role_password)));
  const std::string base = "postgresql://" + std::string(password_role);
  const std::string where = "@127.0.0.1:" + port() + "/" + fixture_.database();

  auto right = store::open_postgres_store(
      PostgresOptions{.url = base + ":" + role_password + where, .durable = true});
  // The role may not create tables in the fixture's database: any failure but a login one.
  if (right) (void)(*right)->close();
  if (!right) {
    ASSERT_EQ(right.error().message.find("password authentication"), std::string::npos)
        << right.error().message;
  }

  auto wrong =
      store::open_postgres_store(PostgresOptions{.url = base + ":Wrong-Battery-9" + where});
  if (wrong) GTEST_SKIP() << "this cluster does not check passwords (scripts/pg.sh's does)";
  EXPECT_EQ(wrong.error().code, Errc::rejected);
  EXPECT_TRUE(one_line(wrong.error().message)) << wrong.error().message;
  EXPECT_NE(wrong.error().message.find("password authentication failed"), std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(wrong.error().message.find("Wrong-Battery-9"), std::string::npos);

  auto option = store::open_postgres_store(
      PostgresOptions{.url = "postgresql://127.0.0.1:" + port() + "/" + fixture_.database(),
                      .user = password_role,
                      .password = "Wrong-Battery-9"});
  ASSERT_FALSE(option);
  EXPECT_NE(option.error().message.find("password authentication failed"), std::string::npos)
      << option.error().message;
  EXPECT_EQ(option.error().message.find("Wrong-Battery-9"), std::string::npos);
}

TEST_F(PostgresqlStoreTest, AMalformedUrlIsInvalidInputWithoutThePassword) {
  auto store =
      store::open_postgres_store(PostgresOptions{.url = "host=db password='Secret-1 port=5"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::invalid_input);
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_EQ(store.error().message.find("Secret-1"), std::string::npos) << store.error().message;
}

// --- schema ---

// The conformance suite checks that concurrent opens all succeed; here, that the schema they
// race to create is written once.
TEST_F(PostgresqlStoreTest, ConcurrentOpensWriteOneSchemaVersion) {
  for (const auto& error :
       open_concurrently([&] { return store::open_postgres_store(fixture_.options()); }, 6)) {
    EXPECT_EQ(error, "");
  }
  EXPECT_EQ(*fixture_.sql("SELECT count(*) FROM schema_version"), std::vector<std::string>{"1"});
}

TEST_F(PostgresqlStoreTest, ASchemaNewerThanThisBuildIsRefused) {
  ASSERT_TRUE(open());
  ASSERT_TRUE(fixture_.sql("UPDATE schema_version SET version = 99"));
  auto store = store::open_postgres_store(fixture_.options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unsupported);
  EXPECT_NE(store.error().message.find("schema version 99, newer than"), std::string::npos)
      << store.error().message;
}

// Schema version 2 added the lease epoch and api_broker_append_fenced(): a version-1
// database is migrated in place when opened, its events and leases kept.
TEST_F(PostgresqlStoreTest, AVersionOneDatabaseIsMigratedInPlace) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append(simple("kept")));
  }
  ASSERT_TRUE(
      fixture_.sql("DROP FUNCTION api_broker_append_fenced; ALTER TABLE leases DROP COLUMN epoch; "
                   "INSERT INTO leases VALUES ('processor', 'old', now() - interval '1 hour'); "
                   "UPDATE schema_version SET version = 1"));
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(*fixture_.sql("SELECT version FROM schema_version"), std::vector<std::string>{"2"});
  EXPECT_EQ(*fixture_.sql("SELECT count(*) FROM events"), std::vector<std::string>{"1"});
  auto lease = store->acquire_lease("processor", "new", 10s);  // the old one has expired
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->owner, "new");
  EXPECT_EQ(lease->epoch, 1u);
  const std::vector<NewEvent> one = {simple("fenced")};
  EXPECT_TRUE(store->append_batch_fenced(one, store::Fence{"processor", "new", 1}));
  EXPECT_EQ(store->append_batch_fenced(one, store::Fence{"processor", "old", 0}).error().code,
            Errc::fenced);
}

TEST_F(PostgresqlStoreTest, AnEventsTableItDidNotCreateIsRefused) {
  ASSERT_TRUE(fixture_.sql("CREATE TABLE events (id serial, payload jsonb)"));
  auto store = store::open_postgres_store(fixture_.options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unsupported);
  EXPECT_NE(store.error().message.find("events table that api-broker did not create"),
            std::string::npos)
      << store.error().message;
}

// --- values ---

// The conformance suite checks that `created` reads back with its microseconds; here, that
// the column holds them too (what SQL on the table sees).
TEST_F(PostgresqlStoreTest, TheCreatedColumnHoldsMicroseconds) {
  auto store = open();
  ASSERT_TRUE(store);
  auto id = store->append(simple("when"));
  ASSERT_TRUE(id);
  auto envelope = store->get(*id);
  ASSERT_TRUE(envelope);
  auto stored = fixture_.sql(
      fmt::format("SELECT to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                  "FROM events WHERE id = {}",
                  events::to_int(*id)));
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(*stored, std::vector<std::string>{events::format_time(envelope->created)});
}

TEST_F(PostgresqlStoreTest, ANulCharacterIsStoredAsTheReplacementCharacter) {
  auto store = open();
  ASSERT_TRUE(store);
  auto id =
      store->append(NewEvent{.event = events::ApiResponse{.response = std::string("a\0b", 3)}});
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(std::get<events::ApiResponse>(store->get(*id)->event).response,
            "a\xEF\xBF\xBD"
            "b");
}

// --- reconnection ---

class PostgresqlReconnectTest : public PostgresqlStoreTest {
 protected:
  // Ends the server session of the store opened with `application`, as a restart would.
  void terminate(const std::string& application) {
    auto done =
        fixture_.sql(fmt::format("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                                 "WHERE application_name = '{}'",
                                 application));
    ASSERT_TRUE(done) << done.error().message;
    ASSERT_EQ(*done, std::vector<std::string>{"t"});
  }
  std::string application_ =
      "api_broker_test_" + events::to_string(events::random_uuid()).substr(0, 8);
};

TEST_F(PostgresqlReconnectTest, ALostConnectionFailsOneCallThenTheNextReconnects) {
  PostgresOptions options = fixture_.options();
  options.application_name = application_;
  auto store = open(options);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append(simple("before")));
  terminate(application_);
  auto lost = store->append(simple("lost"));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(lost.error().message)) << lost.error().message;
  EXPECT_NE(lost.error().message.find("connection lost"), std::string::npos)
      << lost.error().message;
  auto again = store->append(simple("after"));
  ASSERT_TRUE(again) << again.error().message;
  auto read = store->read_after(events::no_event, 10);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ(std::get<events::Simple>(read->back().event).message, "after");
}

TEST_F(PostgresqlReconnectTest, AWaitingFollowerSeesTheLossThenFollowsAgain) {
  PostgresOptions options = fixture_.options();
  options.application_name = application_;
  auto follower = open(options);
  auto writer = open();
  ASSERT_TRUE(follower && writer);
  StopSignal stop;
  Result<void> waited;
  std::thread waiting([&] { waited = follower->wait_for_append(events::no_event, 30s, stop); });
  terminate(application_);
  waiting.join();
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(waited.error().message)) << waited.error().message;

  // Reconnected, it listens again: an append from another connection wakes it.
  std::latch listening(1);
  std::thread appending([&] {
    listening.wait();
    ASSERT_TRUE(writer->append(simple("wake")));
  });
  ASSERT_TRUE(follower->wait_for_append(events::no_event, 0ms, stop));  // reconnects, listens
  listening.count_down();
  ASSERT_TRUE(follower->wait_for_append(events::no_event, 30s, stop));
  appending.join();
  EXPECT_EQ(events::to_int(*follower->last_id()), 1u);
}

TEST_F(PostgresqlReconnectTest, AConnectionLostMidBatchStoresNothingAndTheNextCallWorks) {
  PostgresOptions options = fixture_.options();
  options.application_name = application_;
  auto store = open(options);
  ASSERT_TRUE(store);
  // Another session holds the append lock, so the batch waits inside its transaction.
  const char* keywords[] = {"dbname", "dbname", nullptr};
  const char* values[] = {fixture_.admin_url().c_str(), fixture_.database().c_str(), nullptr};
  std::unique_ptr<PGconn, decltype(&PQfinish)> holder(PQconnectdbParams(keywords, values, 1),
                                                      &PQfinish);
  ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK);
  PQclear(PQexec(holder.get(), "SELECT pg_advisory_lock(7021227690617946416)"));
  Result<std::vector<EventId>> appended = fail(Errc::cancelled, "not run");
  std::thread appending([&] {
    const std::vector<NewEvent> batch = {simple("1"), simple("2"), simple("3")};
    appended = store->append_batch(batch);
  });
  bool waiting = false;
  for (int i = 0; i < 1000 && !waiting; ++i) {  // up to 10 s for the append to reach the lock
    auto state = fixture_.sql(
        fmt::format("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{}' "
                    "AND wait_event_type = 'Lock'",
                    application_));
    waiting = state && *state == std::vector<std::string>{"1"};
    if (!waiting) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(waiting) << "the append never waited for the lock";
  terminate(application_);
  appending.join();
  PQclear(PQexec(holder.get(), "SELECT pg_advisory_unlock(7021227690617946416)"));
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(appended.error().message)) << appended.error().message;
  EXPECT_NE(appended.error().message.find("may or may not be stored"), std::string::npos)
      << appended.error().message;
  EXPECT_EQ(*fixture_.sql("SELECT count(*) FROM events"), std::vector<std::string>{"0"});
  auto again = store->append(simple("after"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(events::to_int(*again), 1u);
}

TEST_F(PostgresqlStoreTest, WithoutDurabilityItStillAppends) {
  PostgresOptions options = fixture_.options();
  options.durable = false;  // synchronous_commit off for this session
  auto store = open(options);
  ASSERT_TRUE(store);
  auto id = store->append(simple("fast"));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(std::get<events::Simple>(store->get(*id)->event).message, "fast");
}

}  // namespace
}  // namespace api_broker::testing
