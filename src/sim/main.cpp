// api-broker-sim: runs the processor in deterministic simulation, one run per seed, and checks
// every invariant at the end of each. A failing seed is printed with the command that replays
// it.
//
//   api-broker-sim --seeds 2000               seeds 1..2000
//   api-broker-sim --seeds 100000 --first-seed 7000000
//   api-broker-sim --seed 1234 --verbose      one run, with the processor's log and the events

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "api_broker/events/codec.hpp"
#include "simulation.hpp"

namespace {

using api_broker::sim::SimulationReport;

struct Totals {
  std::uint64_t runs = 0, failed = 0, requests = 0, events = 0, attempts = 0, api_calls = 0,
                crashes = 0, pauses = 0, takeovers = 0, lost_fenced = 0, lost_renewing = 0,
                held_back = 0, store_faults = 0, parked = 0, steps = 0, breaker_transitions = 0,
                cancels = 0, rounds = 0;
  double simulated_hours = 0;
  void add(const SimulationReport& r) {
    ++runs;
    failed += r.ok() ? 0u : 1u;
    requests += r.requests;
    events += r.events;
    attempts += r.attempts;
    api_calls += r.api_calls;
    crashes += r.crashes;
    pauses += r.pauses;
    takeovers += r.takeovers;
    lost_fenced += r.lost_fenced;
    lost_renewing += r.lost_renewing;
    held_back += r.held_back;
    store_faults += r.store_faults;
    parked += r.parked;
    steps += r.steps;
    breaker_transitions += r.breaker_transitions;
    cancels += r.cancels;
    rounds += r.rounds;
    simulated_hours += api_broker::to_seconds(r.simulated) / 3600.0;
  }
};

void print_failure(const SimulationReport& report, const std::string& program) {
  fmt::print(stderr, "seed {} FAILED: {} violations\n", report.seed, report.violations.size());
  for (std::size_t i = 0; i < report.violations.size() && i < 10; ++i) {
    fmt::print(stderr, "  {}\n", report.violations[i]);
  }
  fmt::print(stderr, "  replay: {} --seed {} --verbose\n", program, report.seed);
}

// --seed: one run, its log when verbose, and its report. The exit status.
int run_one(std::uint64_t seed, const std::shared_ptr<spdlog::logger>& log, bool verbose,
            const std::string& program) {
  const SimulationReport report = api_broker::sim::simulate(seed, log, verbose);
  for (const auto& envelope : report.history) {
    fmt::print("{}\n", api_broker::events::envelope_to_line(envelope));
  }
  if (verbose) {
    for (const auto& downtime : report.downtimes) fmt::print("processor down {}\n", downtime);
  }
  fmt::print(
      "seed {}: {} requests ({} succeeded, {} failed), {} events, {} attempts, {} API calls, "
      "{} crashes, {} pauses, {} takeovers, {} store faults, {} parked, {} cancels, {} rounds "
      "retried, {:.1f} s simulated, log {}\n",
      report.seed, report.requests, report.succeeded, report.failed, report.events, report.attempts,
      report.api_calls, report.crashes, report.pauses, report.takeovers, report.store_faults,
      report.parked, report.cancels, report.rounds, api_broker::to_seconds(report.simulated),
      report.log_digest);
  if (!report.ok()) {
    print_failure(report, program);
    return 1;
  }
  return 0;
}

// --seeds: many runs, the first failures in full, and the totals. The exit status.
int run_many(std::uint64_t first_seed, std::uint64_t seeds,
             const std::shared_ptr<spdlog::logger>& log, const std::string& program) {
  Totals totals;
  std::vector<std::uint64_t> failing;
  const auto began = std::chrono::steady_clock::now();
  for (std::uint64_t s = first_seed; s < first_seed + seeds; ++s) {
    const SimulationReport report = api_broker::sim::simulate(s, log);
    totals.add(report);
    if (!report.ok()) {
      failing.push_back(s);
      if (failing.size() <= 5) print_failure(report, program);
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  fmt::print("seeds {}..{}: {} runs, {} failed, in {:.1f} s ({:.0f} runs/s)\n", first_seed,
             first_seed + seeds - 1, totals.runs, totals.failed, wall,
             static_cast<double>(totals.runs) / wall);
  fmt::print(
      "  {} requests, {} events, {} attempts, {} API calls, {} processor crashes, {} pauses, {} "
      "takeovers, {} store faults, {} requests parked, {:.1f} h simulated, {} steps\n",
      totals.requests, totals.events, totals.attempts, totals.api_calls, totals.crashes,
      totals.pauses, totals.takeovers, totals.store_faults, totals.parked, totals.simulated_hours,
      totals.steps);
  fmt::print(
      "  lease: {} processors found out they lost it by a fenced commit, {} by a renewal; {} "
      "calls held back until a renewal\n",
      totals.lost_fenced, totals.lost_renewing, totals.held_back);
  fmt::print("  the partner's protection: {} breaker transitions\n", totals.breaker_transitions);
  fmt::print("  clients: {} cancels, {} retries that started a round\n", totals.cancels,
             totals.rounds);
  if (failing.empty()) return 0;
  std::string list;
  for (std::size_t i = 0; i < failing.size() && i < 20; ++i) list += fmt::format(" {}", failing[i]);
  fmt::print(stderr, "failing seeds:{}{}\n", list, failing.size() > 20 ? " ..." : "");
  return 1;
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): what throws past the handlers is a bug: abort
int main(int argc, char** argv) {
  CLI::App app{
      "Runs the api-broker processor in deterministic simulation: a seeded API that "
      "fails, drops and stalls, an in-memory store with injected faults, "
      "processor crashes, and paused lease holders taken over by a standby; checks every invariant "
      "after each run."};
  std::optional<std::uint64_t> seed;
  std::uint64_t seeds = 1000;
  std::uint64_t first_seed = 1;
  bool verbose = false;
  app.add_option("--seed", seed, "Run this one seed (and print its report)");
  app.add_option("--seeds", seeds, "Number of seeds to run")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  app.add_option("--first-seed", first_seed, "First seed of --seeds")->capture_default_str();
  app.add_flag("--verbose", verbose, "With --seed: the processor's log lines and every event");
  CLI11_PARSE(app, argc, argv);
  const std::string program = argv[0];

  auto log =
      std::make_shared<spdlog::logger>("sim", std::make_shared<spdlog::sinks::null_sink_st>());
  if (verbose) {
    log =
        std::make_shared<spdlog::logger>("sim", std::make_shared<spdlog::sinks::stderr_sink_st>());
    log->set_level(spdlog::level::debug);
    log->set_pattern("[%l] %v");
  }
  if (seed) return run_one(*seed, log, verbose, program);
  return run_many(first_seed, seeds, log, program);
}
