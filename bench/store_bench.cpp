// Event store figures on SQLite, each beside its raw ceiling measured in the same run:
//   append rate, single events (autocommit) and batches of 100 per transaction;
//   follow wake-up latency across processes (p50/p99).
// Usage: store_bench [--events N] [--dir DIR]   (DIR should be on the disk you care about)

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/sqlite_store.hpp"
#include "raw_sqlite.hpp"
#include "stats.hpp"

namespace {

using namespace api_broker;
using namespace std::chrono_literals;

double store_appends_per_second(const std::string& path, int events, int per_transaction) {
  auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
  if (!store) {
    fmt::print(stderr, "{}\n", store.error().message);
    std::exit(1);
  }
  std::vector<events::NewEvent> batch(
      static_cast<std::size_t>(per_transaction),
      events::NewEvent{.event = events::Request{"benchmark payload"}});
  bench::Stopwatch watch;
  for (int i = 0; i < events; i += per_transaction) {
    if (per_transaction == 1) {
      (void)(*store)->append(batch.front());
    } else {
      (void)(*store)->append_batch(batch);
    }
  }
  return events / watch.seconds();
}

// A child process appends `count` events, each carrying the monotonic time of its append;
// this process follows and records how long each took to arrive.
std::vector<double> follow_latencies_ms(const std::string& path, int count) {
  {
    auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
    if (!store) std::exit(1);
  }
  const pid_t child = fork();
  if (child == 0) {
    auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
    std::this_thread::sleep_for(200ms);
    for (int i = 0; i < count; ++i) {
      std::this_thread::sleep_for(5ms);
      (void)(*store)->append(
          events::NewEvent{.event = events::Simple{fmt::format("{:.6f}", bench::monotonic_ms())}});
    }
    _exit(0);
  }
  auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
  std::vector<double> latencies;
  StopSignal stop;
  (void)store::follow(
      **store, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        const double sent = std::stod(std::get<events::Simple>(envelope.event).message);
        latencies.push_back(bench::monotonic_ms() - sent);
        return static_cast<int>(latencies.size()) < count;
      },
      [](const Error&) { return true; });
  waitpid(child, nullptr, 0);
  return latencies;
}

}  // namespace

int main(int argc, char** argv) {
  int events_count = 2000;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events") events_count = std::atoi(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
  }
  const std::string base = fmt::format("{}/api-broker-bench-{}", dir, getpid());
  std::filesystem::create_directories(base);
  int run = 0;
  auto fresh = [&] { return fmt::format("{}/run{}.db", base, run++); };

  fmt::print("SQLite event store, synchronous=FULL (durable), WAL, {} events per figure\n",
             events_count);
  fmt::print("{:<34}{:>14}{:>16}{:>9}\n", "shape", "raw SQLite/s", "api-broker/s", "ratio");
  for (const int per_tx : {1, 100}) {
    const int n = per_tx == 1 ? std::min(events_count, 1000) : events_count * 10;
    const double raw = bench::raw_inserts_per_second(fresh(), n, per_tx);
    const double ours = store_appends_per_second(fresh(), n, per_tx);
    fmt::print("{:<34}{:>14.0f}{:>16.0f}{:>8.0f}%\n",
               per_tx == 1 ? "single event per transaction" : "batch of 100 per transaction", raw,
               ours, 100 * ours / raw);
  }
  const auto latencies = follow_latencies_ms(fresh(), 300);
  fmt::print(
      "follow wake-up across processes ({} appends, 5 ms apart): p50 {:.3f} ms, p99 {:.3f} "
      "ms, max {:.3f} ms\n",
      latencies.size(), bench::percentile(latencies, 50), bench::percentile(latencies, 99),
      bench::percentile(latencies, 100));
  std::filesystem::remove_all(base);
  return 0;
}
