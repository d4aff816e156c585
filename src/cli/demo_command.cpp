// `api-broker demo`: the whole broker on the embedded default, in one process and a few
// seconds — a brittle API on a free loopback port, the processor, a client that submits
// requests — with a progress bar and a summary of what reliability cost.

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "api_broker/broker/audit.hpp"
#include "api_broker/broker/processor.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/store/sqlite_store.hpp"
#include "context.hpp"

namespace api_broker::cli {
namespace {

struct DemoArgs {
  int requests = 300;
  double failure_rate = 0.3;
  double silent_failure_rate = 0.2;
  double min_latency = 0.005;
  double max_latency = 0.2;
  int retries = 6;
  double timeout = 0.5;
  std::string db;  // empty: a temporary file, removed afterwards
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p / 100 * static_cast<double>(values.size() - 1))];
}

void draw_progress(int done, int total, bool tty) {
  constexpr int width = 40;
  const int filled = total == 0 ? width : done * width / total;
  std::string bar;
  for (int i = 0; i < width; ++i) bar += i < filled ? "█" : "░";
  if (tty) {
    fmt::print("\r  {} {}/{} requests finished", bar, done, total);
  } else if (done == total || done % std::max(1, total / 10) == 0) {
    fmt::print("  {} {}/{} requests finished\n", bar, done, total);
  }
  std::fflush(stdout);
}

// Where the demo's log lives: `db`, in `temp_dir` (removed afterwards) unless the user named
// a file to keep.
struct DemoPlace {
  std::string db;
  std::string temp_dir;
};

Result<DemoPlace> choose_place(const DemoArgs& args) {
  if (!args.db.empty()) return DemoPlace{.db = args.db, .temp_dir = {}};
  char pattern[] = "/tmp/api-broker-demo-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    return fail(Errc::unavailable, "cannot create a temporary directory");
  }
  const std::string temp_dir = pattern;
  return DemoPlace{.db = temp_dir + "/demo.db", .temp_dir = temp_dir};
}

void print_setup(const DemoArgs& args, const std::string& db, const std::string& api_url) {
  fmt::print("api-broker demo\n");
  fmt::print("  event store   SQLite {} (durable: synchronous=FULL)\n", db);
  fmt::print(
      "  brittle API   {} · latency {}-{} s · {:.0f}% of calls fail, {:.0f}% of those "
      "drop the connection\n",
      api_url, args.min_latency, args.max_latency, args.failure_rate * 100,
      args.silent_failure_rate * 100);
  fmt::print("  policy        {} retries · {} s per attempt · exponential backoff\n\n",
             args.retries, args.timeout);
}

Result<void> configure_policy(store::EventStore& store, const DemoArgs& args) {
  events::Configuration configuration;
  configuration.retries = args.retries;
  configuration.timeout = args.timeout;
  configuration.backoff_initial = 0.05;
  configuration.backoff_max = 1;
  if (auto id = store.append(events::NewEvent{.event = configuration}); !id) {
    return fail(id.error());
  }
  return {};
}

// The client: submit every request, in batches as a busy application would.
Result<void> submit_requests(store::EventStore& store, int requests) {
  std::vector<events::NewEvent> batch;
  for (int i = 0; i < requests; ++i) {
    batch.push_back(events::NewEvent{.event = events::Request{fmt::format("order #{}", i + 1)}});
    if (batch.size() == 50 || i + 1 == requests) {
      if (auto ids = store.append_batch(batch); !ids) return fail(ids.error());
      batch.clear();
    }
  }
  return {};
}

// What the demo's consumer saw of the outcomes in the log.
struct Outcomes {
  std::map<std::uint64_t, TimePoint> submitted;
  std::vector<double> latencies_ms;
  int finished = 0;
  int first_try = 0;
  int after_retries = 0;
  int failed = 0;

  // Takes one event of the log; true if it was a request's outcome.
  bool take(const events::Envelope& envelope) {
    if (std::holds_alternative<events::Request>(envelope.event)) {
      submitted.emplace(events::to_int(envelope.id), envelope.created);
      return false;
    }
    const auto* succeeded = std::get_if<events::RequestSucceeded>(&envelope.event);
    const bool failure = std::holds_alternative<events::RequestFailed>(envelope.event);
    if (succeeded == nullptr && !failure) return false;
    const auto it = submitted.find(events::to_int(envelope.causation_id));
    if (it != submitted.end()) {
      latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(envelope.created - it->second).count());
    }
    if (succeeded != nullptr) {
      (succeeded->attempt == 0 ? first_try : after_retries) += 1;
    } else {
      ++failed;
    }
    ++finished;
    return true;
  }
};

void print_summary(const DemoArgs& args, const Outcomes& outcomes, const broker::AuditReport& r,
                   const brittle_api::Stats& api_stats) {
  auto row = [](std::string_view label, const std::string& value) {
    fmt::print("  │ {:<32} │ {:>12} │\n", label, value);
  };
  fmt::print("\n  ┌──────────────────────────────────┬──────────────┐\n");
  row("requests submitted", fmt::format("{}", args.requests));
  row("succeeded at the first try", fmt::format("{}", outcomes.first_try));
  row("succeeded after retries", fmt::format("{}", outcomes.after_retries));
  row("failed (retries exhausted)", fmt::format("{}", outcomes.failed));
  fmt::print("  ├──────────────────────────────────┼──────────────┤\n");
  row("attempts made", fmt::format("{}", r.attempts));
  row("  answered / 503 or dropped", fmt::format("{} / {}", r.responses, r.failures));
  row("  timed out", fmt::format("{}", r.timeouts));
  row("API calls seen by the API", fmt::format("{}", api_stats.calls));
  fmt::print("  ├──────────────────────────────────┼──────────────┤\n");
  row("latency to outcome p50", fmt::format("{:.1f} ms", percentile(outcomes.latencies_ms, 50)));
  row("latency to outcome p99", fmt::format("{:.1f} ms", percentile(outcomes.latencies_ms, 99)));
  row("events in the log", fmt::format("{}", r.events));
  fmt::print("  └──────────────────────────────────┴──────────────┘\n");
  fmt::print("  verify: {}\n", r.ok() ? "ok, every invariant holds"
                                      : fmt::format("{} violations", r.violations_total));
}

// Runs the processor on its own thread until stop() is called.
class DemoProcessor {
 public:
  DemoProcessor(broker::StoreOpener open, http::Url url, std::shared_ptr<spdlog::logger> log)
      : thread_([this, open = std::move(open), url = std::move(url), log = std::move(log)] {
          auto done = broker::run_processor(open, broker::ProcessorOptions{.api = url}, stop_, log);
          if (!done) error_ = done.error();
        }) {}
  DemoProcessor(const DemoProcessor&) = delete;
  DemoProcessor& operator=(const DemoProcessor&) = delete;
  ~DemoProcessor() { stop(); }

  void stop() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  // Set once the processor thread failed; read it after stop(), or as a hint before.
  [[nodiscard]] const std::optional<Error>& error() const { return error_; }

 private:
  StopSignal stop_;
  std::optional<Error> error_;
  std::thread thread_;  // last: it runs on the members above
};

int run_demo(const DemoArgs& args) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  auto place = choose_place(args);
  if (!place) return report(place.error());
  const std::string db = place->db;
  auto open = [db]() { return store::open_sqlite_store(store::SqliteOptions{.path = db}); };
  auto store = open();
  if (!store) return report(store.error());

  auto api = brittle_api::Server::start(
      "127.0.0.1:0", brittle_api::Options{.min_latency = args.min_latency,
                                          .max_latency = args.max_latency,
                                          .failure_rate = args.failure_rate,
                                          .silent_failure_rate = args.silent_failure_rate});
  if (!api) return report(api.error());
  print_setup(args, db, (*api)->url());
  if (auto configured = configure_policy(**store, args); !configured) {
    return report(configured.error());
  }
  auto url = http::parse_url((*api)->url());
  if (!url) return report(url.error());
  DemoProcessor processor(open, *url, make_logger("processor", store::LogLevel::error));
  if (auto submitted = submit_requests(**store, args.requests); !submitted) {
    processor.stop();
    return report(submitted.error());
  }

  // Watch the outcomes arrive, as any business consumer would: from the log.
  StopSignal stop;
  StopOnSignals on_signals(stop);
  Outcomes outcomes;
  draw_progress(0, args.requests, tty);
  auto followed = store::follow(
      **store, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        if (!outcomes.take(envelope)) return true;
        draw_progress(outcomes.finished, args.requests, tty);
        return outcomes.finished < args.requests && !processor.error();
      },
      [](const Error&) { return true; });
  if (tty) fmt::print("\n");
  processor.stop();
  const auto api_stats = (*api)->stats();
  (*api)->stop();
  if (!followed) return report(followed.error());
  if (processor.error()) return report(*processor.error());
  if (stop.stop_requested()) return 130;

  auto audit = broker::audit(**store, broker::AuditOptions{.require_finished = true});
  if (!audit) return report(audit.error());
  print_summary(args, outcomes, *audit, api_stats);
  if (!place->temp_dir.empty()) {
    (void)(*store)->close();
    std::error_code ignored;
    std::filesystem::remove_all(place->temp_dir, ignored);
  } else {
    fmt::print("  the log is in {}: try `api-broker --eventstore-db-path {} list`\n", db, db);
  }
  return audit->ok() ? exit_ok : exit_violations;
}

}  // namespace

void add_demo_command(CLI::App& app, Context& context) {
  auto args = std::make_shared<DemoArgs>();
  auto* command = app.add_subcommand(
      "demo",
      "Run the whole broker for a few seconds on a temporary SQLite store: a brittle API on a "
      "free loopback port, the processor, N requests, a progress bar and a summary table");
  command->add_option("--requests", args->requests, "Requests to submit")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command->add_option("--failure-rate", args->failure_rate, "Share of API calls that fail")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command
      ->add_option("--silent-failure-rate", args->silent_failure_rate,
                   "Share of failures that drop the connection")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--min-latency", args->min_latency, "Seconds")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  command->add_option("--max-latency", args->max_latency, "Seconds")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  command->add_option("--retries", args->retries, "Retries per request")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  command->add_option("--timeout", args->timeout, "Seconds per attempt")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  command->add_option("--keep-db", args->db, "Keep the log in this SQLite file");
  command->callback([&context, args] {
    context.run = [args]() -> int {
      if (args->min_latency > args->max_latency) {
        return report(Error{Errc::invalid_input, "--min-latency is above --max-latency"});
      }
      return run_demo(*args);
    };
  });
}

}  // namespace api_broker::cli
