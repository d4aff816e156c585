// Event store figures on PostgreSQL, each beside its raw ceiling measured in the same run
// (plain libpq, a table of the same shape, the same default durability):
//   append rate, single events (autocommit) and batches of 100 per transaction, each from
//   1 connection and from 8 connections at once (a thread and a connection each);
//   follow wake-up latency across processes with LISTEN/NOTIFY (p50/p99).
// Every figure runs in a fresh database of its own, dropped at the end.
// Usage: postgresql_store_bench [--url URL] [--rounds N]
//   URL: a role that may CREATE DATABASE (default $API_BROKER_PG_URL; scripts/pg.sh start
//   prints one). Each figure is the best of N rounds (default 2), raw and store alternating,
//   because the disk's flush rate drifts with the machine's load.

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/store/postgresql_store.hpp"
#include "raw_postgresql.hpp"
#include "stats.hpp"

namespace {

using namespace api_broker;
using namespace std::chrono_literals;

std::unique_ptr<store::EventStore> open_or_die(const std::string& url) {
  auto store = store::open_postgres_store(store::PostgresOptions{.url = url});
  if (!store) bench::pg::die(store.error().message);
  return std::move(*store);
}

// Events per second appended through the store: `events` in all from `connections` stores
// at once (a thread each), one append() per event or one append_batch() per
// `per_transaction` events.
double store_appends_per_second(const std::string& url, int events, int per_transaction,
                                int connections) {
  open_or_die(url);  // creates the schema, outside the timed part
  const std::vector<events::NewEvent> batch(
      static_cast<std::size_t>(per_transaction),
      events::NewEvent{.event = events::Request{"benchmark payload"}});
  const int batches_per_connection = std::max(1, events / connections / per_transaction);
  const double seconds = bench::pg::timed_on_threads(
      connections, [&](int) { return open_or_die(url); },
      [&](const std::unique_ptr<store::EventStore>& store) {
        for (int b = 0; b < batches_per_connection; ++b) {
          if (per_transaction == 1) {
            if (auto id = store->append(batch.front()); !id) bench::pg::die(id.error().message);
          } else {
            if (auto ids = store->append_batch(batch); !ids) bench::pg::die(ids.error().message);
          }
        }
      });
  return batches_per_connection * connections * per_transaction / seconds;
}

// A child process appends `count` events, `gap` apart, each carrying the monotonic time
// (CLOCK_MONOTONIC, the same for every process) of its append; this process follows with
// store::follow (LISTEN/NOTIFY) and records how long each took to arrive.
std::vector<double> follow_latencies_ms(const std::string& url, int count) {
  open_or_die(url);  // the schema exists before either side starts
  const pid_t child = fork();
  if (child < 0) bench::pg::die("fork failed");
  if (child == 0) {
    auto store = store::open_postgres_store(store::PostgresOptions{.url = url});
    if (!store) _exit(1);
    std::this_thread::sleep_for(200ms);  // the parent is listening by then
    for (int i = 0; i < count; ++i) {
      std::this_thread::sleep_for(5ms);
      if (!(*store)->append(events::NewEvent{
              .event = events::Simple{fmt::format("{:.6f}", bench::monotonic_ms())}})) {
        _exit(1);
      }
    }
    _exit(0);
  }
  auto store = open_or_die(url);
  std::vector<double> latencies;
  StopSignal stop;
  const auto until = std::chrono::steady_clock::now() + 60s;
  (void)store::follow(
      *store, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        const double sent = std::stod(std::get<events::Simple>(envelope.event).message);
        latencies.push_back(bench::monotonic_ms() - sent);
        return static_cast<int>(latencies.size()) < count &&
               std::chrono::steady_clock::now() < until;
      },
      [](const Error&) { return true; });
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bench::pg::die("the appending child failed");
  return latencies;
}

struct Shape {
  const char* name;
  int per_transaction;
  int connections;
  int rows;
};

}  // namespace

int main(int argc, char** argv) {
  const char* from_env = std::getenv("API_BROKER_PG_URL");
  std::string url = from_env != nullptr ? from_env : "";
  int rounds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--url") url = argv[i + 1];
    if (flag == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  if (url.empty()) {
    fmt::print(stderr,
               "postgresql_store_bench: give --url postgresql://... or set API_BROKER_PG_URL "
               "(scripts/pg.sh start prints one)\n");
    return 2;
  }
  // Databases are dropped at the end, not between figures: a DROP DATABASE forces a
  // checkpoint, whose writes would land in the next figure.
  std::vector<std::unique_ptr<bench::pg::ScratchDatabase>> databases;
  auto fresh = [&](std::string_view purpose) {
    databases.push_back(std::make_unique<bench::pg::ScratchDatabase>(url, purpose));
    return databases.back()->url();
  };
  {
    auto admin = bench::pg::connect(url);
    fmt::print(
        "PostgreSQL {} event store vs plain libpq; synchronous_commit={}, fsync={}, "
        "wal_sync_method={}, commit_delay={}; best of {} rounds\n",
        bench::pg::exec(admin.get(), "SHOW server_version"),
        bench::pg::exec(admin.get(), "SHOW synchronous_commit"),
        bench::pg::exec(admin.get(), "SHOW fsync"),
        bench::pg::exec(admin.get(), "SHOW wal_sync_method"),
        bench::pg::exec(admin.get(), "SHOW commit_delay"), rounds);
  }
  const Shape shapes[] = {
      {"single-row autocommit, 1 connection", 1, 1, 1000},
      {"single-row autocommit, 8 connections", 1, 8, 2000},
      {"100 rows per transaction, 1 connection", 100, 1, 20000},
      {"100 rows per transaction, 8 connections", 100, 8, 40000},
  };
  fmt::print("{:<42}{:>8}{:>14}{:>15}{:>8}\n", "shape", "rows", "raw libpq/s", "api-broker/s",
             "ratio");
  for (const Shape& shape : shapes) {
    double raw = 0;
    double ours = 0;
    for (int round = 0; round < rounds; ++round) {
      raw = std::max(raw, bench::pg::raw_inserts_per_second(
                              fresh("raw"), shape.rows, shape.per_transaction, shape.connections));
      ours = std::max(ours, store_appends_per_second(fresh("store"), shape.rows,
                                                     shape.per_transaction, shape.connections));
    }
    fmt::print("{:<42}{:>8}{:>14.0f}{:>15.0f}{:>7.0f}%\n", shape.name, shape.rows, raw, ours,
               100 * ours / raw);
  }
  // What LISTEN/NOTIFY alone costs single-row commits (PostgreSQL serializes the commits of
  // notifying transactions, so 8 connections cannot share a flush either): the raw table
  // with the same per-statement NOTIFY trigger as the store's.
  double notify_1 = 0;
  double notify_8 = 0;
  for (int round = 0; round < rounds; ++round) {
    notify_1 =
        std::max(notify_1, bench::pg::raw_inserts_per_second(fresh("notify"), 1000, 1, 1, true));
    notify_8 =
        std::max(notify_8, bench::pg::raw_inserts_per_second(fresh("notify"), 2000, 1, 8, true));
  }
  fmt::print(
      "raw single-row autocommit with a NOTIFY trigger like the store's: {:.0f}/s on 1 "
      "connection, {:.0f}/s on 8\n",
      notify_1, notify_8);

  const auto latencies = follow_latencies_ms(fresh("follow"), 300);
  fmt::print(
      "follow wake-up across processes, LISTEN/NOTIFY ({} appends, 5 ms apart): p50 {:.3f} ms, "
      "p99 {:.3f} ms, max {:.3f} ms\n",
      latencies.size(), bench::percentile(latencies, 50), bench::percentile(latencies, 99),
      bench::percentile(latencies, 100));
  return 0;
}
