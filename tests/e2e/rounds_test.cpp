// Cancel and retry (issue 12) with the real binary: a failed request retried once the API is
// healthy again succeeds; a request cancelled during its backoff fails "cancelled" with no
// further call; `verify` passes on both logs. SQLite only (nothing here depends on the backend).

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "e2e/broker_fixture.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;

class Rounds : public ::testing::Test, public BrokerFixture {
 protected:
  void SetUp() override { use_backend("sqlite"); }

  // Polls `list` until it holds `what` `count` times, or 60 s pass.
  std::string wait_for(const std::string& what, std::uint64_t count = 1) {
    std::string listed;
    for (int i = 0; i < 600; ++i) {
      listed = cli({"list"}).out;
      if (count_in(listed, what) >= count) break;
      std::this_thread::sleep_for(100ms);
    }
    return listed;
  }
};

TEST_F(Rounds, AFailedRequestRetriedOnceTheApiIsHealthySucceeds) {
  const std::string failing = start_api({"--api-failure-rate", "1"});
  ASSERT_FALSE(failing.empty()) << read_file(dir.file("api.err"));
  ASSERT_EQ(
      cli({"configure", "--retries", "1", "--timeout", "2", "--backoff-initial", "0.01"}).exit_code,
      0);
  const auto ids = insert_requests(1);
  ASSERT_EQ(ids.size(), 1u);
  auto processor = start_processor(failing);
  auto verified = wait_until_all_finished(60s);
  ASSERT_EQ(verified.exit_code, 0) << verified.out << read_file(dir.file("processor.err"));
  EXPECT_EQ(count_in(cli({"list"}).out, "request-failed"), 1u);
  // A failed request cannot be cancelled; an unknown one is not found.
  EXPECT_EQ(cli({"cancel", ids[0]}).exit_code, 6);
  EXPECT_EQ(cli({"retry", "999"}).exit_code, 4);

  // The API is healthy again (a new one; the processor is restarted to call it).
  processor->signal(SIGINT);
  ASSERT_EQ(processor->wait(10s), 0) << read_file(dir.file("processor.err"));
  api.reset();
  std::filesystem::remove(dir.file("api.err"));  // start_api() reads the port from it
  const std::string healthy = start_api({});
  ASSERT_FALSE(healthy.empty()) << read_file(dir.file("api.err"));
  auto retried = cli({"retry", ids[0], "--reason", "the API is back"});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_EQ(cli({"retry", ids[0]}).exit_code, 6) << "a retried request is unfinished";
  processor = start_processor(healthy);
  std::string listed = wait_for("request-succeeded");
  EXPECT_EQ(count_in(listed, "request-succeeded"), 1u)
      << listed << read_file(dir.file("processor.err"));
  EXPECT_EQ(count_in(listed, "request-retried"), 1u) << listed;
  EXPECT_EQ(count_in(listed, "api-request"), 3u) << listed;  // 2 in round 0, 1 in round 1
  verified = wait_until_all_finished(60s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
  EXPECT_EQ(cli({"retry", ids[0]}).exit_code, 6) << "a succeeded request cannot be retried";
  processor->signal(SIGINT);
  EXPECT_EQ(processor->wait(10s), 0) << read_file(dir.file("processor.err"));
}

TEST_F(Rounds, ARequestCancelledDuringItsBackoffFailsWithoutAFurtherCall) {
  const std::string url = start_api({"--api-failure-rate", "1"});
  ASSERT_FALSE(url.empty()) << read_file(dir.file("api.err"));
  // A long backoff: the cancel comes while attempt 1 waits.
  ASSERT_EQ(cli({"configure", "--retries", "5", "--timeout", "2", "--backoff-initial", "600",
                 "--backoff-max", "600"})
                .exit_code,
            0);
  const auto ids = insert_requests(1);
  ASSERT_EQ(ids.size(), 1u);
  auto processor = start_processor(url);
  std::string listed = wait_for("api-failure");
  ASSERT_EQ(count_in(listed, "api-failure"), 1u) << listed;
  auto cancelled = cli({"cancel", ids[0], "--reason", "no longer needed"});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  listed = wait_for("request-failed");
  EXPECT_EQ(count_in(listed, "request-failed"), 1u)
      << listed << read_file(dir.file("processor.err"));
  EXPECT_EQ(count_in(listed, "\"reason\":\"cancelled: no longer needed\""), 1u) << listed;
  EXPECT_EQ(count_in(listed, "api-request"), 1u) << listed;
  EXPECT_EQ(cli({"cancel", ids[0]}).exit_code, 6) << "already finished";
  const auto verified = cli({"verify", "--all-finished"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
  processor->signal(SIGINT);
  EXPECT_EQ(processor->wait(10s), 0) << read_file(dir.file("processor.err"));
  EXPECT_EQ(count_in(read_file(calls_log()), "\n"), 1u) << "one call, none after the cancel";
}

}  // namespace
}  // namespace api_broker::testing
