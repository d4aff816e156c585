#pragma once
// A chaos run on real processes: the real brittle API failing, dropping connections and
// answering late; clients inserting requests through the CLI while the processor is killed
// with SIGKILL at random moments (each time restarted as a fresh process) and, on PostgreSQL,
// the database server is stopped and started. Then every request must finish, the invariant
// checker (`api-broker verify --all-finished`) must pass over the real log, and the log must
// agree with the API's own record of the calls it received (cross_check.hpp).
//
// One seed fixes the request UUIDs, the API's draws, the moments of the blows and the
// database outages; the interleaving of real processes still varies from run to run.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chaos/cross_check.hpp"

namespace api_broker::chaos {

struct ChaosOptions {
  std::string backend = "sqlite";  // sqlite | postgresql (a private cluster, scripts/pg.sh)
  std::uint64_t seed = 1;
  int requests = 1500;
  int clients = 4;      // inserting processes at a time
  int kills = 10;       // SIGKILLs of the processor
  int db_restarts = 2;  // stops and starts of the database server (postgresql only)
  // The brittle API: half the calls fail, 40% of those by dropping the connection; answers
  // take up to 0.4 s, longer than the attempt timeout below, so some come after it.
  double failure_rate = 0.5;
  double silent_failure_rate = 0.4;
  double max_latency = 0.4;
  // The policy.
  int retries = 15;
  double timeout = 0.25;
  double backoff_initial = 0.01;
  double backoff_max = 0.2;
  // A blow (kill or database restart) comes once the clients have stored a random share of
  // the requests, plus a random pause in [blow_pause_min, blow_pause_max].
  std::chrono::milliseconds blow_pause_min{50};
  std::chrono::milliseconds blow_pause_max{600};
  std::chrono::milliseconds db_down_min{300};
  std::chrono::milliseconds db_down_max{1500};
  // After the last blow, every request must finish within this.
  std::chrono::seconds finish_bound{180};
  // Called with a line for every step (may be empty).
  std::function<void(const std::string&)> progress;
  // Polled while waiting: true ends the run early, as a failure (may be empty).
  std::function<bool()> cancelled;
  // Keep the run's files (the log, the calls log, the processes' output) even if it passed.
  bool keep_files = false;
};

struct ChaosReport {
  std::string backend;
  std::uint64_t seed = 0;
  int kills = 0;        // processors killed with SIGKILL and restarted
  int db_restarts = 0;  // database server stops and starts
  int insert_retries = 0;
  int inserts_found_on_retry = 0;  // a retried insert found its first try committed
  CrossCheck check;
  bool verify_ok = false;
  std::string verify;  // the output of `verify --all-finished --json` on the final log
  double seconds = 0;
  std::string work_dir;               // kept when the run failed or keep_files is set
  std::vector<std::string> problems;  // empty: the run passed
  bool ok() const { return problems.empty(); }
};

ChaosReport run_chaos(const ChaosOptions& options);

// The report as a small table, and as one JSON line.
std::string format_table(const ChaosReport& report);
std::string format_json(const ChaosReport& report);

}  // namespace api_broker::chaos
