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
      {"help", "frobnicate"},
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
  expect_one_line_error(api_broker({"--eventstore-db-path", garbage, "list"}), 1,
                        "is not an api-broker event store (not a SQLite database)");
  expect_one_line_error(api_broker({"--eventstore-db-path", dir_.file("missing/dir/x.db"), "list"}),
                        1, "does not exist");
  expect_one_line_error(
      api_broker({"--eventstore-db-path", dir_.file("missing/dir/x.db"), "insert", "simple", "x"}),
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
  ASSERT_EQ(cli({"insert", "simple", "zero"}).exit_code, 0);  // a reader never creates the store
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

// --- issue 15 ---------------------------------------------------------------------------------

TEST_F(Cli, HelpIsACommandAndAnUnknownCommandIsNamed) {
  auto help = api_broker({"help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("watch-requests"), std::string::npos) << help.out;
  auto insert_help = api_broker({"help", "insert"});
  EXPECT_EQ(insert_help.exit_code, 0) << insert_help.err;
  EXPECT_NE(insert_help.out.find("DATA"), std::string::npos) << insert_help.out;
  expect_one_line_error(cli({"frobnicate"}), 2, "unknown command 'frobnicate'");
  expect_one_line_error(cli({}), 2, "A subcommand is required");
}

TEST_F(Cli, AUrlWithoutADriverNamesItsDriverAndAContradictionIsRefused) {
  // Port 1 refuses at once: the command goes to PostgreSQL, fails there, and writes nothing.
  const std::string url = "postgresql://127.0.0.1:1/none";
  expect_one_line_error(cli({"--eventstore-url", url, "insert", "simple", "x"}), 1,
                        "cannot connect to the postgresql event store");
  expect_one_line_error(cli({"insert", "simple", "x"}, {"EVENTSTORE_URL=postgres://127.0.0.1:1/n"}),
                        1, "cannot connect to the postgresql event store");
  expect_one_line_error(
      cli({"--eventstore-driver", "mongodb", "--eventstore-url", url, "insert", "simple", "x"}), 2,
      "--eventstore-url is a postgresql URL, but --eventstore-driver is 'mongodb'");
  expect_one_line_error(cli({"--eventstore-driver", "postgresql", "--eventstore-url",
                             "mongodb://127.0.0.1:1/x", "list"}),
                        2, "is a mongodb URL");
  expect_one_line_error(
      cli({"--eventstore-driver", "sqlite", "--eventstore-url", url, "insert", "simple", "x"}), 2,
      "sqlite takes --eventstore-db-path");
  expect_one_line_error(cli({"--eventstore-url", "host=127.0.0.1 port=1", "list"}), 2,
                        "--eventstore-driver");
  struct stat info {};
  EXPECT_NE(stat(db().c_str(), &info), 0) << "a SQLite store was written";
}

TEST_F(Cli, NonNumericPortsAndTimeoutsAreUsageErrors) {
  expect_one_line_error(
      cli({"--eventstore-driver", "postgresql", "--eventstore-db-port", "abc", "list"}), 2,
      "--eventstore-db-port must be a port number");
  expect_one_line_error(
      cli({"--eventstore-driver", "mongodb", "--eventstore-db-port", "99999", "list"}), 2,
      "--eventstore-db-port must be a port number");
  expect_one_line_error(
      cli({"--eventstore-url", "postgresql://127.0.0.1:1/x?connect_timeout=abc", "list"}), 2,
      "connect_timeout=abc is not a number");
  expect_one_line_error(cli({"--eventstore-driver", "postgresql", "--eventstore-url",
                             "host=127.0.0.1 connect_timeout=abc", "list"}),
                        2, "connect_timeout=abc is not a number");
}

TEST_F(Cli, EmptyAndNilExternalUuidsAndHexNumbersAreRefused) {
  const std::string nil = "00000000-0000-0000-0000-000000000000";
  expect_one_line_error(cli({"insert", "simple", "x", "--external-uuid", ""}), 2,
                        "--external-uuid is empty");
  expect_one_line_error(cli({"insert", "simple", "x", "--external-uuid", nil}), 2, "nil UUID");
  expect_one_line_error(cli({"configure", "--retries", "2", "--external-uuid", ""}), 2,
                        "--external-uuid is empty");
  expect_one_line_error(cli({"configure", "--external-uuid", nil}), 2, "nil UUID");
  expect_one_line_error(cli({"configure", "--retries", "0x10"}), 2, "not a decimal number");
  expect_one_line_error(cli({"configure", "--timeout", "0x10"}), 2, "not a decimal number");
  expect_one_line_error(cli({"process", "--in-flight-max", "0x10"}), 2, "not a decimal number");
  struct stat info {};
  EXPECT_NE(stat(db().c_str(), &info), 0) << "something was stored";
  ASSERT_EQ(cli({"insert", "simple", "x"}).exit_code, 0);
  expect_one_line_error(cli({"resolve-external-uuid", nil}), 2, "nil UUID");
  EXPECT_EQ(cli({"list"}).out.find("uuid="), std::string::npos);
}

TEST_F(Cli, JsonPayloadsAreStoredAsGivenOrRefused) {
  expect_one_line_error(cli({"insert", "configuration", R"({"retries":1,"retries":5})"}), 2,
                        "configuration payload has the key 'retries' twice");
  expect_one_line_error(cli({"insert", "configuration", R"({"retries":2,"retry":9})"}), 2,
                        "unknown field 'retry'");
  expect_one_line_error(
      cli({"insert", "api-failure", R"({"attempt":0,"failure":"x","reason":"y"})"}), 2,
      "unknown field 'reason'");
  auto old = cli({"insert", "configuration", R"({"retries":3,"timeout":5})"});  // the prototype's
  ASSERT_EQ(old.exit_code, 0) << old.err;
  auto listed = cli({"list", "--json"});
  // The same values (a number is written as its type is: timeout is in seconds, a real).
  EXPECT_NE(listed.out.find(R"("payload":{"retries":3,"timeout":5.0})"), std::string::npos)
      << listed.out;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
}

TEST_F(Cli, OnlyWritersCreateAStoreAndOtherFilesAreLeftAsTheyAre) {
  const std::string one_byte = dir_.file("one-byte.db");
  std::ofstream(one_byte) << 'x';
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"insert", "simple", "x"}, {"configure"}, {"list"}}) {
    std::vector<std::string> args{"--eventstore-db-path", one_byte};
    args.insert(args.end(), command.begin(), command.end());
    expect_one_line_error(api_broker(args), 1, one_byte + " is not an api-broker event store");
  }
  EXPECT_EQ(read_file(one_byte), "x");
  // Someone else's SQLite database is not made into a store either.
  const std::string other = dir_.file("other.db");
  if (run({"sqlite3", other, "CREATE TABLE notes (text TEXT)"}).exit_code == 0) {
    expect_one_line_error(api_broker({"--eventstore-db-path", other, "insert", "simple", "x"}), 1,
                          "a SQLite database of something else");
    EXPECT_EQ(run({"sqlite3", other, "SELECT count(*) FROM sqlite_master"}).out, "1\n");
  }
  // A mistyped path: the commands that only read refuse it and create nothing.
  const std::string typo = dir_.file("evnets.db");
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"list"},
           {"resolve-external-uuid", "6f1c0a52-4d5b-4f6e-9a31-2b7c9d0e1f22"},
           {"watch"},
           {"watch-requests"},
           {"verify"}}) {
    std::vector<std::string> args{"--eventstore-db-path", typo};
    args.insert(args.end(), command.begin(), command.end());
    expect_one_line_error(api_broker(args, {}, 30s), 1, typo + " does not exist");
    struct stat info {};
    EXPECT_NE(stat(typo.c_str(), &info), 0) << command.front() << " created " << typo;
  }
}

TEST_F(Cli, ListReadsAStoreOnAReadOnlyFilesystem) {
  ASSERT_EQ(cli({"insert", "simple", "kept"}).exit_code, 0);
  // Tests run as root, which file modes do not stop: mount the folder read-only, in a mount
  // namespace of its own so that nothing outlives the command.
  const std::string script = "mount --bind -o ro '" + dir_.path() + "' '" + dir_.path() +
                             "' || exit 77; '" + api_broker_bin() + "' --eventstore-db-path '" +
                             db() + "' list";
  auto listed = run({"unshare", "-m", "sh", "-c", script});
  if (listed.exit_code == 77 || listed.err.find("unshare") != std::string::npos) {
    GTEST_SKIP() << "no read-only bind mount here: " << listed.err;
  }
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("\"kept\""), std::string::npos) << listed.out;
  const std::string write = "mount --bind -o ro '" + dir_.path() + "' '" + dir_.path() +
                            "' || exit 77; '" + api_broker_bin() + "' --eventstore-db-path '" +
                            db() + "' insert simple more";
  auto refused = run({"unshare", "-m", "sh", "-c", write});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
}

TEST_F(Cli, InsertDashReadsStandardInput) {
  const std::string prefix = "'" + api_broker_bin() + "' --eventstore-db-path '" + db() + "' ";
  auto piped = run({"sh", "-c", "printf 'from stdin\\n-' | " + prefix + "insert request -"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  auto listed = cli({"list"});
  EXPECT_NE(listed.out.find(R"({"request":"from stdin\n-"})"), std::string::npos) << listed.out;
  auto huge =
      run({"sh", "-c", "head -c 4194305 /dev/zero | tr '\\0' a | " + prefix + "insert simple -"});
  expect_one_line_error(huge, 2, "standard input (DATA -) is larger than 4194304 bytes");
}

TEST_F(Cli, FollowersEndQuietlyWhenTheirReaderGoesAway) {
  for (const char* m : {"a", "b", "c"}) ASSERT_EQ(cli({"insert", "simple", m}).exit_code, 0);
  const std::string prefix = "'" + api_broker_bin() + "' --eventstore-db-path '" + db() + "' ";
  for (const std::string command :
       {"list --follow | head -2", "watch --start-after 0 | head -1", "list | head -1"}) {
    auto piped = run({"bash", "-c", "set -o pipefail; " + prefix + command}, {}, 30s);
    EXPECT_FALSE(piped.timed_out) << command;
    EXPECT_EQ(piped.exit_code, 0) << command << ": " << piped.err;
    EXPECT_EQ(piped.err, "") << command;
  }
}

TEST_F(Cli, WatchRequestsStartingMidLogUsesThePolicyInForceThere) {
  // The processor's policy: retries 5. Four timed-out attempts leave it backing off, where the
  // default policy (retries 3) would call it failed.
  ASSERT_EQ(cli({"configure", "--retries", "5", "--backoff-jitter", "0"}).exit_code, 0);
  ASSERT_EQ(cli({"insert", "simple", "start here"}).exit_code, 0);
  ASSERT_EQ(cli({"insert", "request", "ping"}).out, "3\n");
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::string payload = "{\"attempt\":" + std::to_string(attempt) + "}";
    ASSERT_EQ(cli({"insert", "api-request", payload, "--causation", "3"}).exit_code, 0);
    ASSERT_EQ(cli({"insert", "api-timeout", payload, "--causation", "3"}).exit_code, 0);
  }
  const std::string prefix = "'" + api_broker_bin() + "' --eventstore-db-path '" + db() + "' ";
  auto watched =
      run({"bash", "-c", "set -o pipefail; " + prefix + "watch-requests --start-after 2 | head -9"},
          {}, 30s);
  ASSERT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_EQ(watched.out.find("failed"), std::string::npos) << watched.out;
  const std::string last = watched.out.substr(watched.out.rfind('\n', watched.out.size() - 2));
  EXPECT_NE(last.find("backing_off (attempt 3, 4 started)"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("in_flight"), std::string::npos) << watched.out;
}

// Hundreds of processes may insert into one file at once: none sees "database is locked".
TEST_F(Cli, ConcurrentInsertsFromManyProcessesAllSucceed) {
  ASSERT_EQ(cli({"insert", "simple", "first"}).exit_code, 0);  // the schema exists
  const std::string errors = dir_.file("errors.txt");
  const std::string script = "for i in $(seq 100); do '" + api_broker_bin() +
                             "' --eventstore-db-path '" + db() +
                             "' insert simple m$i >/dev/null 2>>'" + errors + "' & done; wait";
  auto ran = run({"bash", "-c", script}, {}, 120s);
  ASSERT_FALSE(ran.timed_out);
  EXPECT_EQ(read_file(errors), "");
  auto listed = cli({"list"});
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 101) << listed.err;
}

TEST_F(Cli, HelpWorksOnEveryCommand) {
  for (const char* command : {"insert", "list", "resolve-external-uuid", "watch", "configure",
                              "process", "watch-requests", "verify", "demo", "target"}) {
    auto help = api_broker({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace api_broker::testing
