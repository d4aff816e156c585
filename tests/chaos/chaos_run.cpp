#include "chaos/chaos_run.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "e2e/broker_fixture.hpp"
#include "support/private_cluster.hpp"

namespace api_broker::chaos {
namespace {

using namespace std::chrono_literals;
using testing::BrokerFixture;
using testing::Child;
using testing::PrivateCluster;
using testing::read_file;

// A uniform double in [0, 1), the same on every platform for a seed.
double draw_unit(std::mt19937_64& random) {
  return static_cast<double>(random() >> 11) * 0x1.0p-53;
}

std::chrono::milliseconds draw_between(std::mt19937_64& random, std::chrono::milliseconds low,
                                       std::chrono::milliseconds high) {
  const auto span = static_cast<double>(std::max(high - low, 0ms).count());
  return low + std::chrono::milliseconds(static_cast<long>(draw_unit(random) * span));
}

// The last lines of a log file, for a problem's text.
std::string tail_of(const std::string& path, std::size_t lines = 5) {
  const std::string text = read_file(path);
  std::size_t at = text.size();
  for (std::size_t n = 0; n <= lines && at != std::string::npos && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
  }
  return text.substr(at == std::string::npos ? 0 : at + 1);
}

// One blow of the run: it comes once the clients have stored `share` of the requests, after a
// pause.
struct Blow {
  double share;
  std::chrono::milliseconds pause;
  bool database;  // restart the database server; else kill the processor
};

std::vector<Blow> plan_blows(const ChaosOptions& options, int db_restarts,
                             std::mt19937_64& random) {
  std::vector<Blow> blows;
  for (int i = 0; i < options.kills + db_restarts; ++i) {
    blows.push_back(
        Blow{.share = draw_unit(random),
             .pause = draw_between(random, options.blow_pause_min, options.blow_pause_max),
             .database = i >= options.kills});
  }
  std::sort(blows.begin(), blows.end(),
            [](const Blow& a, const Blow& b) { return a.share < b.share; });
  return blows;
}

class Run {
 public:
  explicit Run(const ChaosOptions& options)
      : options_(options),
        random_(options.seed),
        postgres_(options.backend == "postgresql"),
        db_restarts_(postgres_ ? options.db_restarts : 0) {
    report_.backend = options.backend;
    report_.seed = options.seed;
  }

  ChaosReport execute() {
    const auto started = std::chrono::steady_clock::now();
    if (set_up()) {
      blows_and_inserts();
      if (!cancelled() && finish()) check();
    }
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    processor_.reset();
    broker_.api.reset();
    if (!report_.ok() || options_.keep_files) {
      broker_.dir.keep();
      report_.work_dir = broker_.dir.path();
    }
    return std::move(report_);
  }

 private:
  void say(const std::string& line) {
    if (options_.progress) options_.progress(line);
  }
  bool cancelled() {
    if (!options_.cancelled || !options_.cancelled()) return false;
    if (!cancel_reported_) problem("cancelled");
    cancel_reported_ = true;
    return true;
  }
  void problem(const std::string& text) {
    say("PROBLEM: " + text);
    report_.problems.push_back(text);
  }

  // The store, the API and the policy; false if the run cannot start.
  bool set_up() {
    if (options_.backend == "sqlite") {
      broker_.store_args = {"--eventstore-db-path", broker_.dir.file("events.db")};
      store_.driver = "sqlite";
      store_.db_path = broker_.dir.file("events.db");
    } else if (postgres_) {
      // The server runs as `postgres` when we are root: let it through to its directory.
      chmod(broker_.dir.path().c_str(), 0711);
      cluster_ = std::make_unique<PrivateCluster>(broker_.dir.file("pg"));
      if (cluster_->url().empty()) {
        problem("cannot start a PostgreSQL cluster: " + cluster_->error());
        return false;
      }
      broker_.store_args = {"--eventstore-driver", "postgresql", "--eventstore-url",
                            cluster_->url()};
      store_.driver = "postgresql";
      store_.url = cluster_->url();
    } else {
      problem("unknown backend '" + options_.backend + "' (sqlite or postgresql)");
      return false;
    }
    api_url_ = broker_.start_api({"--api-failure-rate", fmt::format("{}", options_.failure_rate),
                                  "--api-silent-failure-rate",
                                  fmt::format("{}", options_.silent_failure_rate),
                                  "--api-max-latency", fmt::format("{}", options_.max_latency),
                                  "--seed", std::to_string(options_.seed)});
    if (api_url_.empty()) {
      problem("the brittle API did not start: " + tail_of(broker_.dir.file("api.err")));
      return false;
    }
    const auto configured =
        broker_.cli({"configure", "--retries", std::to_string(options_.retries), "--timeout",
                     fmt::format("{}", options_.timeout), "--backoff-initial",
                     fmt::format("{}", options_.backoff_initial), "--backoff-max",
                     fmt::format("{}", options_.backoff_max)});
    if (configured.exit_code != 0) {
      problem("configure failed: " + configured.err);
      return false;
    }
    say(fmt::format("{}: {} requests, {} clients, {} kills, {} database restarts, seed {}",
                    options_.backend, options_.requests, options_.clients, options_.kills,
                    db_restarts_, options_.seed));
    return true;
  }

  void start_processor() {
    processor_log_start_ = read_file(broker_.dir.file("processor.err")).size();
    processor_ = broker_.start_processor(api_url_);
  }

  // Waits until the processor last started has opened the store and resumed: one that
  // starts while the database is down exits (code 1) for its supervisor to start it again,
  // which is not what a database restart here is meant to test.
  bool wait_until_processor_resumed() {
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (read_file(broker_.dir.file("processor.err"))
               .find("resumes after event", processor_log_start_) == std::string::npos) {
      if (!processor_alive("while starting") || cancelled()) return false;
      if (std::chrono::steady_clock::now() > until) {
        problem("the processor did not resume within 60 s: " +
                tail_of(broker_.dir.file("processor.err")));
        return false;
      }
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // A processor that exited by itself is a problem: only SIGKILL and SIGINT end it here.
  bool processor_alive(const std::string& when) {
    if (processor_->running()) return true;
    problem(fmt::format("the processor exited by itself {} (exit {}): {}", when,
                        processor_->wait(0ms), tail_of(broker_.dir.file("processor.err"))));
    return false;
  }

  void kill_processor() {
    if (processor_alive(fmt::format("before kill {}", report_.kills + 1))) {
      processor_->signal(SIGKILL);
      processor_->wait(30s);
      ++report_.kills;
    }
    start_processor();
  }

  // Stops the server, as a crash does ("immediate") or as an orderly restart does ("fast"),
  // keeps it down for a while and starts it again. Returns what it did.
  std::string restart_database() {
    const std::string mode =
        (static_cast<std::uint64_t>(report_.db_restarts) + options_.seed) % 2 == 0 ? "immediate"
                                                                                   : "fast";
    const auto down = draw_between(random_, options_.db_down_min, options_.db_down_max);
    if (!wait_until_processor_resumed()) return "not done";
    if (!cluster_->pause(mode)) {
      problem("cannot stop the database server");
      return "not done";
    }
    std::this_thread::sleep_for(down);  // the processor and the clients work on against it
    if (!cluster_->resume()) {
      problem("cannot start the database server again");
      return "not done";
    }
    ++report_.db_restarts;
    return fmt::format("stopped ({}) for {} ms", mode, down.count());
  }

  void blows_and_inserts() {
    const std::vector<Blow> blows = plan_blows(options_, db_restarts_, random_);
    start_processor();
    Inserters inserters(InsertPlan{.requests = options_.requests,
                                   .clients = options_.clients,
                                   .seed = options_.seed,
                                   .store_args = broker_.store_args,
                                   .cancelled = options_.cancelled});
    for (const Blow& blow : blows) {
      const int due = static_cast<int>(blow.share * options_.requests);
      while (inserters.stored() < due && !inserters.finished() && !cancelled()) {
        std::this_thread::sleep_for(5ms);
      }
      if (cancelled()) break;
      std::this_thread::sleep_for(blow.pause);
      const int stored = inserters.stored();
      if (blow.database) {
        const std::string done = restart_database();
        say(fmt::format("database restart {}/{}: {} ({} requests stored)", report_.db_restarts,
                        db_restarts_, done, stored));
      } else {
        kill_processor();
        say(fmt::format("kill -9 {}/{} ({} requests stored)", report_.kills, options_.kills,
                        stored));
      }
    }
    inserts_ = inserters.join();
    stored_ = inserters.stored();
    for (const Insert& insert : inserts_) {
      report_.insert_retries += std::max(insert.tries - 1, 0);
      report_.inserts_found_on_retry += insert.found_on_retry ? 1 : 0;
    }
    say(fmt::format("clients done: {} stored, {} insert retries", inserters.stored(),
                    report_.insert_retries));
  }

  // Waits for every request to finish, then stops the processor and the API; false if the
  // requests did not all finish (the problem says where they stand).
  bool finish() {
    if (!processor_alive("after the last blow")) start_processor();
    if (!wait_until_finished()) return false;
    processor_alive("at the end");
    // Calls of killed processors may still be in their latency: let the API answer them all.
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      auto in_flight = calls_in_flight(broker_.port);
      if (in_flight && *in_flight == 0) break;
      if (std::chrono::steady_clock::now() > until) {
        problem("the API still serves calls a minute after the end");
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    auto counts = calls_per_key(broker_.port);
    if (counts) {
      calls_per_key_ = std::move(*counts);
    } else {
      problem(counts.error().message);
    }
    processor_->signal(SIGINT);
    if (const int code = processor_->wait(30s); code != 0) {
      problem(fmt::format("the processor did not stop cleanly on SIGINT (exit {}): {}", code,
                          tail_of(broker_.dir.file("processor.err"))));
    }
    broker_.api->signal(SIGINT);  // flushes its calls log
    if (const int code = broker_.api->wait(30s); code != 0) {
      problem(fmt::format("the API did not stop cleanly (exit {})", code));
    }
    return true;
  }

  // Until every request stored has a terminal event (a violation of another rule does not
  // keep us waiting: check() reports it).
  bool wait_until_finished() {
    const auto until = std::chrono::steady_clock::now() + options_.finish_bound;
    std::string last;
    while (!cancelled()) {
      const auto verified = broker_.cli({"verify", "--json"});
      last = verified.out + verified.err;
      const auto json = nlohmann::json::parse(verified.out, nullptr, false);
      if (!json.is_discarded() && json.is_object() && json.value("open", -1) == 0 &&
          json.value("requests", -1) >= stored_) {
        say("every request has finished");
        return true;
      }
      if (std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(250ms);
    }
    if (!cancelled()) {
      problem(fmt::format("not every request finished within {} s: {}",
                          options_.finish_bound.count(), last));
    }
    return false;
  }

  void check() {
    const auto verified = broker_.cli({"verify", "--all-finished", "--json"});
    report_.verify = verified.out;
    report_.verify_ok = verified.exit_code == 0;
    if (!report_.verify_ok) problem("verify --all-finished: " + verified.out + verified.err);
    auto history = read_history(store_);
    if (!history) {
      problem("cannot read the log: " + history.error().message);
      return;
    }
    auto calls = read_calls_log(broker_.calls_log());
    if (!calls) {
      problem(calls.error().message);
      return;
    }
    report_.check = cross_check(inserts_, *history, *calls, calls_per_key_,
                                restart_timeouts_in(read_file(broker_.dir.file("processor.err"))));
    for (const std::string& text : report_.check.problems) problem(text);
    // The report's own figures, checked against verify's count of the same log.
    const auto json = nlohmann::json::parse(verified.out, nullptr, false);
    if (!json.is_discarded() && json.is_object() && json.contains("attempts") &&
        json["attempts"] != report_.check.attempts) {
      problem(fmt::format("verify counts {} attempts, the log reader {}", json["attempts"].dump(),
                          report_.check.attempts));
    }
  }

  const ChaosOptions& options_;
  std::mt19937_64 random_;
  const bool postgres_;
  const int db_restarts_;
  ChaosReport report_;
  BrokerFixture broker_;
  std::unique_ptr<PrivateCluster> cluster_;
  store::StoreOptions store_;
  std::string api_url_;
  std::unique_ptr<Child> processor_;
  std::size_t processor_log_start_ = 0;  // where the last started processor's lines begin
  std::vector<Insert> inserts_;
  int stored_ = 0;
  bool cancel_reported_ = false;
  std::map<std::string, std::uint64_t> calls_per_key_;
};

}  // namespace

ChaosReport run_chaos(const ChaosOptions& options) { return Run(options).execute(); }

std::string format_table(const ChaosReport& r) {
  const CrossCheck& c = r.check;
  std::string table;
  const auto row = [&](std::string_view name, const std::string& value) {
    table += fmt::format("  {:<46} {:>14}\n", name, value);
  };
  row("backend", r.backend);
  row("seed", std::to_string(r.seed));
  row("requests", std::to_string(c.requests));
  row("  succeeded / failed (retries exhausted)", fmt::format("{} / {}", c.succeeded, c.failed));
  row("kills survived (kill -9, fresh process)", std::to_string(r.kills));
  row("database restarts survived", std::to_string(r.db_restarts));
  row("attempts (api-request events)", std::to_string(c.attempts));
  row("API calls (the API's own count)", std::to_string(c.api_calls));
  row("  attempts the API never received", std::to_string(c.attempts_not_received));
  row("duplicates sent to the API (calls / requests)",
      fmt::format("{} / {}", c.duplicates, c.duplicated_requests));
  row("  after a kill / after a timeout",
      fmt::format("{} / {}", c.duplicates_after_kill, c.duplicates_after_timeout));
  row("requests lost", std::to_string(c.requests_lost));
  row("terminal requests re-sent", std::to_string(c.terminal_resent));
  row("verify --all-finished", r.verify_ok ? "ok" : "FAILED");
  row("seconds", fmt::format("{:.1f}", r.seconds));
  return table;
}

std::string format_json(const ChaosReport& r) {
  const CrossCheck& c = r.check;
  nlohmann::ordered_json json{{"backend", r.backend},
                              {"seed", r.seed},
                              {"requests", c.requests},
                              {"succeeded", c.succeeded},
                              {"failed", c.failed},
                              {"kills", r.kills},
                              {"db_restarts", r.db_restarts},
                              {"attempts", c.attempts},
                              {"api_calls", c.api_calls},
                              {"attempts_not_received", c.attempts_not_received},
                              {"duplicates", c.duplicates},
                              {"duplicated_requests", c.duplicated_requests},
                              {"duplicates_after_kill", c.duplicates_after_kill},
                              {"duplicates_after_timeout", c.duplicates_after_timeout},
                              {"calls_after_terminal", c.calls_after_terminal},
                              {"requests_lost", c.requests_lost},
                              {"terminal_resent", c.terminal_resent},
                              {"insert_retries", r.insert_retries},
                              {"inserts_found_on_retry", r.inserts_found_on_retry},
                              {"verify_ok", r.verify_ok},
                              {"seconds", std::round(r.seconds * 10) / 10},
                              {"ok", r.ok()}};
  return json.dump();
}

}  // namespace api_broker::chaos
