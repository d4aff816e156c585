// Chaos on real processes, bounded for CI: 1,500 requests (200 under ASan) inserted by 4
// client processes at a time while the processor is killed with SIGKILL 10 times and, on
// PostgreSQL, the database server is stopped and started twice; the brittle API fails half the
// calls and answers some after the attempt timeout. Nothing may be lost or sent again. Seeded: the
// seed is printed, and API_BROKER_CHAOS_SEED=<seed> runs the same seed again (scripts/chaos.sh runs
// it bigger).

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "chaos/chaos_run.hpp"

namespace api_broker::chaos {
namespace {

std::uint64_t seed_for_this_run() {
  if (const char* given = std::getenv("API_BROKER_CHAOS_SEED"); given != nullptr) {
    return std::stoull(given);
  }
  std::random_device device;
  return (std::uint64_t{device()} << 32 | device()) % 1'000'000'000;
}

// Under AddressSanitizer every process start and every CLI insert costs about ten times as
// much: a smaller run still takes every kind of blow through the sanitizers.
#if defined(__SANITIZE_ADDRESS__)
constexpr int requests = 200;
#else
constexpr int requests = 1500;
#endif

class Chaos : public ::testing::TestWithParam<std::string> {};

TEST_P(Chaos, KillsAndDatabaseRestartsLoseNothingAndSendNoFinishedRequestAgain) {
  const bool postgres = GetParam() == "postgresql";
  if (postgres && std::getenv("API_BROKER_PG_URL") == nullptr) {
    GTEST_SKIP() << "postgresql skipped: API_BROKER_PG_URL is not set (scripts/pg.sh start); "
                    "the test starts a cluster of its own beside it";
  }
  ChaosOptions options;
  options.backend = GetParam();
  options.seed = seed_for_this_run();
  options.requests = requests;
  options.kills = 10;
  options.db_restarts = 2;
  std::cout << "chaos seed " << options.seed
            << "; to run it again: API_BROKER_CHAOS_SEED=" << options.seed
            << " ctest -R Chaos, or scripts/chaos.sh --backend " << GetParam() << " --seed "
            << options.seed << std::endl;
  options.progress = [](const std::string& line) { std::cout << "  " << line << std::endl; };

  const ChaosReport report = run_chaos(options);
  std::cout << format_table(report) << format_json(report) << std::endl;

  std::string problems;
  for (const std::string& problem : report.problems) problems += "\n  " + problem;
  EXPECT_TRUE(report.ok()) << "seed " << options.seed << ", files kept in " << report.work_dir
                           << problems;
  EXPECT_EQ(report.check.requests, static_cast<std::uint64_t>(requests));
  EXPECT_EQ(report.check.succeeded + report.check.failed, report.check.requests);
  EXPECT_EQ(report.check.requests_lost, 0u);
  EXPECT_EQ(report.check.terminal_resent, 0u);
  EXPECT_TRUE(report.verify_ok) << report.verify;
  EXPECT_EQ(report.kills, 10);
  EXPECT_EQ(report.db_restarts, postgres ? 2 : 0);
  // The API was as bad as meant: retries, and answers after the attempt timeout.
  EXPECT_GT(report.check.attempts, report.check.requests);
  EXPECT_EQ(report.verify.find(R"("timeouts":0,)"), std::string::npos) << report.verify;
}

INSTANTIATE_TEST_SUITE_P(Backends, Chaos, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace api_broker::chaos
