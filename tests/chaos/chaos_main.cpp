// api-broker-chaos: one chaos run on real processes (see chaos_run.hpp), of any size.
// scripts/chaos.sh builds and runs it. Prints progress on stderr, then the report as a table
// and as one JSON line on stdout. Exit 0: nothing lost, nothing sent again, every invariant
// holds; 1: a problem (listed, with the seed and the files kept); 2: bad arguments.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>

#include "chaos/chaos_run.hpp"

namespace {

// Raised by SIGINT / SIGTERM: the run ends early and still stops what it started (the
// processor, the API, the PostgreSQL cluster) and removes its files.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

}  // namespace

int main(int argc, char** argv) {
  using api_broker::chaos::ChaosOptions;
  ChaosOptions options;
  std::random_device device;
  options.seed = (std::uint64_t{device()} << 32 | device()) % 1'000'000'000;
  std::string api_broker_bin;
  double blow_pause_max = 0.6;
  int finish_bound = 600;

  CLI::App app{
      "One chaos run of api-broker on real processes: SIGKILLs of the processor and "
      "database restarts while requests are inserted; then every request must finish "
      "and the log must agree with the API's record."};
  app.add_option("--backend", options.backend, "sqlite or postgresql (a cluster of its own)")
      ->check(CLI::IsMember({"sqlite", "postgresql"}))
      ->capture_default_str();
  app.add_option("--requests", options.requests)
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--clients", options.clients, "Inserting processes at a time")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--kills", options.kills, "SIGKILLs of the processor")
      ->check(CLI::Range(0, 100'000))
      ->capture_default_str();
  app.add_option("--db-restarts", options.db_restarts, "Database server restarts (postgresql)")
      ->check(CLI::Range(0, 10'000))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Default: random (printed)");
  app.add_option("--failure-rate", options.failure_rate)
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--silent-failure-rate", options.silent_failure_rate)
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-latency", options.max_latency, "Seconds")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--retries", options.retries)->check(CLI::Range(0, 1000))->capture_default_str();
  app.add_option("--timeout", options.timeout, "Seconds per attempt")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--blow-pause-max", blow_pause_max,
                 "Longest pause (s) before a blow, after its share of requests is stored")
      ->check(CLI::Range(0.05, 600.0))
      ->capture_default_str();
  app.add_option("--finish-bound", finish_bound, "Seconds for every request to finish")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  app.add_flag("--keep", options.keep_files,
               "Keep the run's files (the log, the calls log, the logs of the processes)");
  app.add_option("--api-broker", api_broker_bin,
                 "The api-broker binary (default: $API_BROKER_BIN)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // --help, or one line about the bad argument
  }
  if (!api_broker_bin.empty()) setenv("API_BROKER_BIN", api_broker_bin.c_str(), 1);
  if (std::getenv("API_BROKER_BIN") == nullptr) {
    std::cerr << "api-broker-chaos: say where api-broker is (--api-broker or $API_BROKER_BIN)\n";
    return 2;
  }
  options.blow_pause_max = std::chrono::milliseconds(static_cast<long>(blow_pause_max * 1000));
  options.blow_pause_min = std::min(options.blow_pause_min, options.blow_pause_max);
  options.finish_bound = std::chrono::seconds(finish_bound);
  options.progress = [](const std::string& line) { std::cerr << "chaos: " << line << std::endl; };
  options.cancelled = [] { return interrupted != 0; };
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::cerr << "chaos: seed " << options.seed << std::endl;

  const auto report = api_broker::chaos::run_chaos(options);
  std::cout << api_broker::chaos::format_table(report) << api_broker::chaos::format_json(report)
            << std::endl;
  if (report.ok()) {
    if (!report.work_dir.empty()) std::cerr << "chaos: files kept in " << report.work_dir << '\n';
    return 0;
  }
  std::cerr << "chaos: FAILED with seed " << report.seed << "; files kept in " << report.work_dir
            << '\n';
  for (const std::string& problem : report.problems) std::cerr << "  " << problem << '\n';
  return 1;
}
