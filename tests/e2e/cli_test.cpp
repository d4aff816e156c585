// The store commands of the real `api-broker` binary, including bad input: every failure is
// one line on stderr and a non-zero exit, never a crash or a partial write.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;

class Cli : public ::testing::Test {
 protected:
  Output cli(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"--eventstore-db-path", db()});
    return api_broker(args, env);
  }
  std::string db() const { return dir_.file("events.db"); }
  static void expect_one_line_error(const Output& output, int code, const std::string& words) {
    EXPECT_EQ(output.exit_code, code) << output.err;
    EXPECT_EQ(std::count(output.err.begin(), output.err.end(), '\n'), 1) << output.err;
    EXPECT_NE(output.err.find(words), std::string::npos) << output.err;
    EXPECT_EQ(output.err.find("terminate"), std::string::npos) << output.err;
  }
  TempDir dir_;
};

TEST_F(Cli, InsertThenListShowsTheEvent) {
  auto inserted = cli({"insert", "request", "hello"});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_EQ(inserted.out, "1\n");
  auto listed = cli({"list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("1 "), std::string::npos);
  EXPECT_NE(listed.out.find("request {\"request\":\"hello\"}"), std::string::npos) << listed.out;
  auto json = cli({"list", "--json"});
  EXPECT_NE(json.out.find(R"("class":"request")"), std::string::npos) << json.out;
}

TEST_F(Cli, DatabaseFileIsOwnerOnly) {
  // Even when the umask would let others read it.
  const mode_t umask_before = umask(0);
  const auto inserted = cli({"insert", "simple", "x"});
  umask(umask_before);
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  // A follower keeps the WAL and its index open while a writer appends.
  Child follow({api_broker_bin(), "--eventstore-db-path", db(), "list", "--follow"},
               dir_.file("follow.out"), dir_.file("follow.err"));
  ASSERT_EQ(cli({"insert", "simple", "y"}).exit_code, 0);
  for (const std::string suffix : {"", "-wal", "-shm", "-notify"}) {
    struct stat info {};
    if (stat((db() + suffix).c_str(), &info) != 0) {
      EXPECT_NE(suffix, "") << "no database file";
      continue;
    }
    EXPECT_EQ(info.st_mode & 0777, 0600u) << db() + suffix;
  }
}

TEST_F(Cli, EnvironmentSelectsTheDatabase) {
  const std::string other = dir_.file("other.db");
  auto inserted = api_broker({"insert", "simple", "x"}, {"EVENTSTORE_DB_PATH=" + other});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_EQ(
      api_broker({"list"}, {"EVENTSTORE_DB_PATH=" + other}).out.find("simple") != std::string::npos,
      true);
}

TEST_F(Cli, SameExternalUuidTwiceIsADuplicateAndStoresOnce) {
  const std::string uuid = "123e4567-e89b-12d3-a456-426614174000";
  ASSERT_EQ(cli({"insert", "request", "a", "--external-uuid", uuid}).exit_code, 0);
  auto again = cli({"insert", "request", "b", "--external-uuid", uuid});
  expect_one_line_error(again, 3, "duplicate event identifier");
  EXPECT_NE(again.err.find("stored as event 1"), std::string::npos);
  auto listed = cli({"list"});
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1);
  auto resolved = cli({"resolve-external-uuid", uuid});
  EXPECT_EQ(resolved.out, "1\n");
}

TEST_F(Cli, ListStartAfterSkipsEarlierEvents) {
  for (const char* m : {"a", "b", "c"}) ASSERT_EQ(cli({"insert", "simple", m}).exit_code, 0);
  auto listed = cli({"list", "--start-after", "2"});
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
  EXPECT_NE(listed.out.find("\"c\""), std::string::npos);
}

TEST_F(Cli, InsertTakesJsonPayloadsAndCausation) {
  ASSERT_EQ(cli({"insert", "request", "hello"}).exit_code, 0);
  auto attempt = cli({"insert", "api-request", R"({"attempt":0})", "--causation", "1"});
  ASSERT_EQ(attempt.exit_code, 0) << attempt.err;
  EXPECT_NE(cli({"list"}).out.find("api-request cause=1"), std::string::npos);
  auto failure = cli({"insert", "failure", "it broke", "--causation", "1"});
  ASSERT_EQ(failure.exit_code, 0) << failure.err;
}

TEST_F(Cli, BadInputIsOneLineAndNonZero) {
  ASSERT_EQ(cli({"insert", "simple", "x"}).exit_code, 0);
  expect_one_line_error(cli({"insert", "telepathy", "x"}), 2, "unknown event class 'telepathy'");
  expect_one_line_error(cli({"insert", "api-request", "{not json"}), 2, "not valid JSON");
  expect_one_line_error(cli({"insert", "simple", "x", "--external-uuid", "nope"}), 2,
                        "malformed UUID");
  expect_one_line_error(cli({"insert", "simple", "x", "--causation", "abc"}), 2, "not an event id");
  expect_one_line_error(cli({"insert", "simple", "x", "--causation", "99"}), 4,
                        "causation event 99 does not exist");
  expect_one_line_error(cli({"resolve-external-uuid", "zzz"}), 2, "malformed UUID");
  expect_one_line_error(cli({"resolve-external-uuid", "00000000-0000-4000-8000-000000000000"}), 4,
                        "no event with external UUID");
  expect_one_line_error(cli({"list", "--start-after", "-3"}), 2, "not an event id");
  EXPECT_EQ(cli({"list"}).out.find("telepathy"), std::string::npos);  // nothing partial
}

TEST_F(Cli, WrongArgumentCountsAreUsageErrors) {
  const std::vector<std::vector<std::string>> wrong = {
      {"insert", "simple"},
      {"insert", "simple", "a", "b"},
      {"insert"},
      {"resolve-external-uuid"},
      {"resolve-external-uuid", "123e4567-e89b-12d3-a456-426614174000", "extra"},
      {"list", "extra"},
      {"watch", "extra"},
      {"configure", "extra"},
      {"process", "extra"},
      {"watch-requests", "extra"},
      {"verify", "extra"},
      {"brittle-api"},
      {"brittle-api", "serve"},
      {"brittle-api", "serve", "127.0.0.1:0", "extra"},
      {"insert", "simple", "x", "--causation"},
      {"frobnicate"},
      {},
  };
  for (const auto& args : wrong) {
    expect_one_line_error(cli(args), 2, "api-broker: ");
  }
  EXPECT_EQ(cli({"list"}).out, "");
}

TEST_F(Cli, UnusableDatabasesAreOneLineErrors) {
  expect_one_line_error(api_broker({"--eventstore-db-path", dir_.path(), "list"}), 2,
                        "is a directory");
  const std::string garbage = dir_.file("garbage.db");
  std::ofstream(garbage) << std::string(8192, 'x');
  expect_one_line_error(api_broker({"--eventstore-db-path", garbage, "list"}), 1, "not a database");
  expect_one_line_error(api_broker({"--eventstore-db-path", dir_.file("missing/dir/x.db"), "list"}),
                        1, "cannot create");
  expect_one_line_error(cli({"--eventstore-driver", "oracle", "list"}), 2,
                        "unknown event store driver");
  expect_one_line_error(cli({"--eventstore-loglevel", "chatty", "list"}), 2, "unknown log level");
}

TEST_F(Cli, NewerSchemaIsRefused) {
  ASSERT_EQ(cli({"insert", "simple", "x"}).exit_code, 0);
  auto bumped = run({"sqlite3", db(), "PRAGMA user_version = 99"});
  if (bumped.exit_code != 0) GTEST_SKIP() << "no sqlite3 shell";
  expect_one_line_error(cli({"list"}), 1, "schema version 99");
}

TEST_F(Cli, CorruptRowIsReportedWithItsIdAndListingGoesOn) {
  for (const char* m : {"a", "b", "c"}) ASSERT_EQ(cli({"insert", "simple", m}).exit_code, 0);
  auto broken = run({"sqlite3", db(), "UPDATE events SET class = 'bogus' WHERE id = 2"});
  if (broken.exit_code != 0) GTEST_SKIP() << "no sqlite3 shell";
  auto listed = cli({"list"});
  EXPECT_EQ(listed.exit_code, 1);
  EXPECT_NE(listed.err.find("event 2 is corrupt: unknown event class 'bogus'"), std::string::npos)
      << listed.err;
  EXPECT_NE(listed.out.find("\"a\""), std::string::npos);
  EXPECT_NE(listed.out.find("\"c\""), std::string::npos);
}

TEST_F(Cli, WatchPrintsIdsOfNewEventsAndStopsOnSigint) {
  ASSERT_EQ(cli({"insert", "simple", "before"}).exit_code, 0);
  const std::string out = dir_.file("watch.out");
  Child watch({api_broker_bin(), "--eventstore-db-path", db(), "watch"}, out,
              dir_.file("watch.err"));
  std::this_thread::sleep_for(300ms);  // let it reach its wait; not a timing assertion
  ASSERT_EQ(cli({"insert", "simple", "after"}).exit_code, 0);
  for (int i = 0; i < 500 && read_file(out).empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(read_file(out), "2\n");
  watch.signal(SIGINT);
  const int code = watch.wait(10s);
  EXPECT_TRUE(code == 0 || code == 130) << code;
}

TEST_F(Cli, ListFollowKeepsPrinting) {
  const std::string out = dir_.file("follow.out");
  Child follow({api_broker_bin(), "--eventstore-db-path", db(), "list", "--follow"}, out,
               dir_.file("follow.err"));
  ASSERT_EQ(cli({"insert", "simple", "one"}).exit_code, 0);
  ASSERT_EQ(cli({"insert", "simple", "two"}).exit_code, 0);
  for (int i = 0; i < 500 && read_file(out).find("two") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(read_file(out).find("\"two\""), std::string::npos);
  follow.signal(SIGTERM);
  const int code = follow.wait(10s);
  EXPECT_TRUE(code == 0 || code == 130) << code;
}

TEST_F(Cli, LoggingDecoratorLogsStoreCallsAtTheChosenLevel) {
  auto debug = cli({"--eventstore-loglevel", "debug", "insert", "simple", "x"});
  ASSERT_EQ(debug.exit_code, 0) << debug.err;
  EXPECT_NE(debug.err.find("append simple cause=0 -> id 1"), std::string::npos) << debug.err;
  auto quiet = cli({"--eventstore-loglevel", "error", "insert", "simple", "y"});
  EXPECT_EQ(quiet.err, "");
  auto env = api_broker({"--eventstore-db-path", db(), "resolve-external-uuid",
                         "00000000-0000-4000-8000-000000000000"},
                        {"EVENTSTORE_LOGLEVEL=warn"});
  EXPECT_EQ(env.exit_code, 4);
  EXPECT_NE(env.err.find("resolve failed (not found)"), std::string::npos) << env.err;
}

TEST_F(Cli, HelpWorksOnEveryCommand) {
  for (const char* command : {"insert", "list", "resolve-external-uuid", "watch", "configure",
                              "process", "watch-requests", "verify", "demo"}) {
    auto help = api_broker({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace api_broker::testing
