// Issue 14, lifecycle: the real processor stops gracefully (a stop signal drains the calls in
// flight and records their answers; a second one stops at once), against the real brittle API
// answering slowly, on SQLite; a processor started while PostgreSQL is down waits for it; the
// followers (list --follow, watch) go on after PostgreSQL restarts. The PostgreSQL tests stop
// and start a cluster of their own (PrivateCluster), not the shared one.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "e2e/broker_fixture.hpp"
#include "support/private_cluster.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;

class Lifecycle : public ::testing::Test, public BrokerFixture {
 protected:
  void SetUp() override { use_backend("sqlite"); }

  // Waits until `what` appears in the processor's log; false after `bound`.
  bool wait_for_log(const std::string& what, std::chrono::seconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < until) {
      if (read_file(dir.file("processor.err")).find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Waits until the log holds `count` api-request events.
  bool wait_for_attempts(std::uint64_t count, std::chrono::seconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < until) {
      if (count_in(cli({"list"}).out, "api-request") >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

// A call in flight at SIGTERM is answered and recorded, the processor exits 0, and a restart
// sends nothing again: the API saw each request once.
TEST_F(Lifecycle, SigtermDrainsTheCallsInFlight) {
  const std::string url = start_api(
      {"--api-min-latency", "1.5", "--api-max-latency", "1.5", "--api-failure-rate", "0"});
  ASSERT_FALSE(url.empty()) << read_file(dir.file("api.err"));
  ASSERT_EQ(cli({"configure", "--retries", "0", "--timeout", "60"}).exit_code, 0);
  ASSERT_EQ(insert_requests(3).size(), 3u);
  auto processor = start_processor(url);
  ASSERT_TRUE(wait_for_attempts(3, 30s)) << read_file(dir.file("processor.err"));
  processor->signal(SIGTERM);
  EXPECT_EQ(processor->wait(60s), 0) << read_file(dir.file("processor.err"));
  const std::string log = read_file(dir.file("processor.err"));
  EXPECT_NE(log.find("draining: 3 calls in flight, up to 30 s"), std::string::npos) << log;
  EXPECT_NE(log.find("drained: every call in flight answered and recorded"), std::string::npos)
      << log;
  auto verified = cli({"verify", "--all-finished"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << log;
  EXPECT_NE(verified.out.find("3 succeeded"), std::string::npos) << verified.out;

  // A restart has nothing left to send.
  auto again = start_processor(url);
  ASSERT_TRUE(wait_for_log("resumes after", 30s)) << read_file(dir.file("processor.err"));
  std::this_thread::sleep_for(500ms);
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(60s), 0) << read_file(dir.file("processor.err"));
  api->signal(SIGINT);
  api->wait(10s);
  const std::string calls = read_file(calls_log());
  EXPECT_EQ(count_in(calls, "\n"), 3u) << calls;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(count_in(calls, "req" + std::to_string(i)), 1u) << calls;
  }
}

// While draining, a second signal stops at once: the call still out is left to the next
// processor, which counts it as timed out and retries it.
TEST_F(Lifecycle, ASecondSignalStopsAtOnce) {
  const std::string url =
      start_api({"--api-min-latency", "20", "--api-max-latency", "20", "--api-failure-rate", "0"});
  ASSERT_FALSE(url.empty()) << read_file(dir.file("api.err"));
  ASSERT_EQ(cli({"configure", "--retries", "1", "--timeout", "60"}).exit_code, 0);
  ASSERT_EQ(insert_requests(1).size(), 1u);
  auto processor = start_processor(url, {"--drain-timeout", "120"});
  ASSERT_TRUE(wait_for_attempts(1, 30s)) << read_file(dir.file("processor.err"));
  processor->signal(SIGTERM);
  ASSERT_TRUE(wait_for_log("draining: 1 calls in flight, up to 120 s", 30s))
      << read_file(dir.file("processor.err"));
  processor->signal(SIGTERM);
  // Well before the API's 20 s answer.
  EXPECT_EQ(processor->wait(15s), 0) << read_file(dir.file("processor.err"));
  const std::string log = read_file(dir.file("processor.err"));
  EXPECT_NE(log.find("second stop signal: stopping at once"), std::string::npos) << log;
  auto listed = cli({"list"});
  EXPECT_EQ(count_in(listed.out, "request-succeeded"), 0u) << listed.out;
  EXPECT_EQ(cli({"verify"}).exit_code, 0);
}

// --drain-timeout 0 stops at once, as before the drain existed.
TEST_F(Lifecycle, DrainTimeoutZeroStopsAtOnce) {
  const std::string url =
      start_api({"--api-min-latency", "20", "--api-max-latency", "20", "--api-failure-rate", "0"});
  ASSERT_FALSE(url.empty()) << read_file(dir.file("api.err"));
  ASSERT_EQ(insert_requests(1).size(), 1u);
  auto processor = start_processor(url, {"--drain-timeout", "0"});
  ASSERT_TRUE(wait_for_attempts(1, 30s)) << read_file(dir.file("processor.err"));
  processor->signal(SIGTERM);
  EXPECT_EQ(processor->wait(15s), 0) << read_file(dir.file("processor.err"));
  EXPECT_EQ(read_file(dir.file("processor.err")).find("draining"), std::string::npos);
}

TEST_F(Lifecycle, ABadDrainTimeoutIsRefused) {
  auto out = cli({"process", "--drain-timeout", "-1"});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.err.find("--drain-timeout"), std::string::npos) << out.err;
}

// A PostgreSQL cluster of the test's own, which it may stop and start; skipped without
// $API_BROKER_PG_URL (the sign that PostgreSQL runs here).
class LifecycleOnPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("API_BROKER_PG_URL") == nullptr) {
      GTEST_SKIP() << "postgresql skipped: API_BROKER_PG_URL is not set (scripts/pg.sh start)";
    }
    chmod(broker.dir.path().c_str(), 0711);  // the server runs as `postgres`: let it through
    cluster = std::make_unique<PrivateCluster>(broker.dir.file("pg"));
    ASSERT_FALSE(cluster->url().empty()) << cluster->error();
    broker.store_args = {"--eventstore-driver", "postgresql", "--eventstore-url", cluster->url()};
  }

  bool wait_for_text(const std::string& path, const std::string& what, std::uint64_t count,
                     std::chrono::seconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < until) {
      if (count_in(read_file(path), what) >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  BrokerFixture broker;
  std::unique_ptr<PrivateCluster> cluster;
};

// Started while the database is down, the processor waits for it and then processes.
TEST_F(LifecycleOnPostgres, AProcessorStartedWhileTheStoreIsDownWaitsForIt) {
  const std::string url =
      broker.start_api({"--api-max-latency", "0.01", "--api-failure-rate", "0"});
  ASSERT_FALSE(url.empty());
  ASSERT_EQ(broker.insert_requests(5).size(), 5u);
  ASSERT_TRUE(cluster->pause());
  auto processor = broker.start_processor(url);
  const std::string err = broker.dir.file("processor.err");
  ASSERT_TRUE(wait_for_text(err, "waiting for the event store:", 1, 30s)) << read_file(err);
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(processor->running()) << read_file(err);
  ASSERT_TRUE(cluster->resume());
  auto verified = broker.wait_until_all_finished(60s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << read_file(err);
  EXPECT_NE(verified.out.find("5 succeeded"), std::string::npos) << verified.out;
  processor->signal(SIGTERM);
  EXPECT_EQ(processor->wait(30s), 0) << read_file(err);
}

// A stop while waiting for the store ends the processor at once, with exit 0.
TEST_F(LifecycleOnPostgres, AStopWhileWaitingForTheStoreExitsZero) {
  ASSERT_EQ(broker.insert_requests(1).size(), 1u);
  ASSERT_TRUE(cluster->pause());
  auto processor = broker.start_processor("http://127.0.0.1:9");
  const std::string err = broker.dir.file("processor.err");
  ASSERT_TRUE(wait_for_text(err, "waiting for the event store:", 1, 30s)) << read_file(err);
  processor->signal(SIGTERM);
  EXPECT_EQ(processor->wait(30s), 0) << read_file(err);
  ASSERT_TRUE(cluster->resume());
}

// list --follow and watch go on after the database restarts: every event once, in order.
TEST_F(LifecycleOnPostgres, FollowersReconnectAfterARestartWithoutGapOrRepeat) {
  ASSERT_EQ(broker.insert_requests(1, "first").size(), 1u);  // creates the schema
  std::vector<std::string> list_argv{api_broker_bin()};
  list_argv.insert(list_argv.end(), broker.store_args.begin(), broker.store_args.end());
  std::vector<std::string> watch_argv = list_argv;
  list_argv.insert(list_argv.end(), {"list", "--follow"});
  watch_argv.insert(watch_argv.end(), {"watch", "--start-after", "0"});
  const std::string list_out = broker.dir.file("list.out"),
                    watch_out = broker.dir.file("watch.out");
  Child list(list_argv, list_out, broker.dir.file("list.err"));
  Child watch(watch_argv, watch_out, broker.dir.file("watch.err"));
  ASSERT_EQ(broker.insert_requests(4, "before").size(), 4u);
  ASSERT_TRUE(wait_for_text(list_out, "\n", 5, 30s)) << read_file(list_out);
  ASSERT_TRUE(wait_for_text(watch_out, "\n", 5, 30s)) << read_file(watch_out);
  ASSERT_TRUE(cluster->pause());
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(cluster->resume());
  // Appends right after the restart, while the followers may still be reconnecting.
  int appended = 0;
  for (int i = 0; i < 200 && appended < 5; ++i) {
    if (broker.cli({"insert", "request", "after" + std::to_string(appended)}).exit_code == 0) {
      ++appended;
    } else {
      std::this_thread::sleep_for(200ms);
    }
  }
  ASSERT_EQ(appended, 5);
  // The log as stored, and its ids: what each follower must have printed, once each, in order.
  const std::string stored = broker.cli({"list"}).out;
  std::string ids;
  for (std::size_t at = 0; at < stored.size(); at = stored.find('\n', at) + 1) {
    ids += stored.substr(at, stored.find(' ', at) - at) + "\n";
  }
  ASSERT_EQ(count_in(stored, "\n"), 10u) << stored;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until &&
         (read_file(list_out).size() < stored.size() || read_file(watch_out).size() < ids.size())) {
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(300ms);  // a repeat would show now
  list.signal(SIGINT);
  watch.signal(SIGINT);
  EXPECT_EQ(list.wait(10s), 0);
  EXPECT_EQ(watch.wait(10s), 0);
  EXPECT_EQ(read_file(list_out), stored) << read_file(broker.dir.file("list.err"));
  EXPECT_EQ(read_file(watch_out), ids) << read_file(broker.dir.file("watch.err"));
  EXPECT_NE(read_file(broker.dir.file("list.err")).find("reconnect"), std::string::npos);
}

}  // namespace
}  // namespace api_broker::testing
