// serve_bench: HTTP submissions against the service (in this process, on a durable store),
// the way applications submit: POST /v1/requests on keep-alive connections.
//   1. Throughput: 64 connections, each sending its next request when the previous answer
//      came, for --seconds; every 202 was committed (fsync'd: sync=full) before it was sent.
//   2. Latency: a paced 1,000 requests/s for --seconds over the same connections, each
//      latency measured from its scheduled send time (no coordinated omission).
//   3. End to end, the way applications use it: `serve --process` on a fresh store (a new
//      SQLite file, or a scratch database on --postgresql's cluster) against a zero-latency
//      brittle API in this process; 16 clients each submit one request per HTTP call,
//      --requests in all, until every outcome is stored; then paced at 100/s for --seconds,
//      each latency from its send time to its terminal event's stored time.
// Usage: serve_bench [--seconds N] [--connections N] [--rate N] [--requests N]
//                    [--postgresql ADMIN_URL] [--phases submit,end-to-end]
// The threads are named (ab-http, ab-submitter, ab-view, ab-processor, ab-store, brittle-api;
// the clients are serve_bench): `perf record -g` then `perf report --sort comm` shows which
// part spends the CPU. Prints figures; asserts nothing.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/service/service.hpp"
#include "api_broker/store/open_store.hpp"
#include "raw_postgresql.hpp"
#include "stats.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Settings {
  double seconds = 5;
  int connections = 64;
  double rate = 1000;
  std::uint64_t requests = 10'000;  // phase 3
  std::string postgresql_url;       // a role that may CREATE DATABASE (phase 3's scratch database)
  bool submit = true;               // phases 1 and 2
  bool end_to_end = true;           // phase 3
};

struct Tally {
  std::uint64_t accepted = 0;
  std::uint64_t other = 0;
  std::vector<double> latencies_ms;
  bool keep_ids = false;  // record each accepted id with the wall-clock time it was due
  std::vector<std::pair<std::uint64_t, std::chrono::system_clock::time_point>> sent;
};

// The id of a 202's body {"id":N,...}; 0 if there is none.
std::uint64_t id_of(const std::string& body) {
  const auto at = body.find("\"id\":");
  return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + 5, nullptr, 10);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// One keep-alive connection: sends POSTs at the times `next_send` gives (now: as fast as the
// answers come) until `end`.
asio::awaitable<void> client(tcp::endpoint endpoint, Clock::time_point end,
                             std::function<Clock::time_point()> next_send, Tally& tally,
                             int connection) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  beast::error_code error;
  co_await stream.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, error));
  if (error) {
    fmt::print(stderr, "connect failed: {}\n", error.message());
    co_return;
  }
  stream.socket().set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  asio::steady_timer timer(executor);
  std::uint64_t sent = 0;
  while (true) {
    const Clock::time_point due = next_send();
    if (due >= end) break;
    if (due > Clock::now()) {
      timer.expires_at(due);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, error));
    }
    bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/v1/requests", 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::content_type, "application/json");
    request.body() = fmt::format(R"({{"body":"bench {} {}"}})", connection, sent++);
    request.prepare_payload();
    co_await bhttp::async_write(stream, request, asio::redirect_error(asio::use_awaitable, error));
    if (error) break;
    bhttp::response<bhttp::string_body> response;
    co_await bhttp::async_read(stream, buffer, response,
                               asio::redirect_error(asio::use_awaitable, error));
    if (error) break;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
    if (response.result_int() == 202) {
      ++tally.accepted;
      tally.latencies_ms.push_back(ms);
      if (tally.keep_ids) {
        const auto late =
            std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - due);
        tally.sent.emplace_back(id_of(response.body()), std::chrono::system_clock::now() - late);
      }
    } else {
      ++tally.other;
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, error);
}

#pragma GCC diagnostic pop

tcp::endpoint endpoint_of(const std::string& address) {
  const auto colon = address.rfind(':');
  return {asio::ip::make_address(address.substr(0, colon)),
          static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))};
}

// Runs the clients; `paced`: `rate` requests/s in all, else as fast as answers come; at most
// `count` requests in all when `count` > 0.
Tally run_clients(const std::string& address, const Settings& settings, bool paced,
                  std::uint64_t count = 0) {
  asio::io_context io(1);
  Tally tally;
  tally.keep_ids = count > 0;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(settings.seconds));
  auto slot = std::make_shared<std::uint64_t>(0);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / settings.rate));
  for (int c = 0; c < settings.connections; ++c) {
    std::function<Clock::time_point()> next;
    if (paced) {
      // One global schedule: the next free slot, taken by whichever connection is free.
      next = [slot, start, interval] { return start + interval * static_cast<long>((*slot)++); };
    } else {
      next = [] { return Clock::now(); };
    }
    if (count > 0) {
      next = [next, slot, count, paced] {
        if (!paced && (*slot)++ >= count) return Clock::time_point::max();
        const Clock::time_point due = next();
        return *slot > count ? Clock::time_point::max() : due;
      };
    }
    asio::co_spawn(io, client(endpoint_of(address), end, next, tally, c), asio::detached);
  }
  io.run();
  return tally;
}

void print(const char* what, const Tally& tally, double seconds) {
  fmt::print(
      "{}: {} accepted in {:.1f} s = {:.0f}/s (other answers: {}); latency ms p50 {:.2f} "
      "p99 {:.2f} p99.9 {:.2f} max {:.2f}\n",
      what, tally.accepted, seconds, static_cast<double>(tally.accepted) / seconds, tally.other,
      api_broker::bench::percentile(tally.latencies_ms, 50),
      api_broker::bench::percentile(tally.latencies_ms, 99),
      api_broker::bench::percentile(tally.latencies_ms, 99.9),
      api_broker::bench::percentile(tally.latencies_ms, 100));
}

// Follows the log at `store_options` until every id of `sent` has its terminal event (or
// `bound` passes); returns the latencies, send to terminal event, in ms, and the span from the
// first send to the last outcome in s.
std::pair<std::vector<double>, double> outcomes(
    const api_broker::store::StoreOptions& store_options, const Tally& tally,
    std::chrono::seconds bound) {
  using namespace api_broker;
  std::map<std::uint64_t, std::chrono::system_clock::time_point> waiting(tally.sent.begin(),
                                                                         tally.sent.end());
  auto first = std::chrono::system_clock::time_point::max();
  for (const auto& [id, at] : tally.sent) first = std::min(first, at);
  auto last = first;
  std::vector<double> latencies;
  auto store = store::open_store(store_options);
  if (!store) return {latencies, 0};
  StopSignal stop;
  const auto until = Clock::now() + bound;
  (void)store::follow(
      **store, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        if (std::holds_alternative<events::RequestSucceeded>(envelope.event) ||
            std::holds_alternative<events::RequestFailed>(envelope.event)) {
          const auto it = waiting.find(events::to_int(envelope.causation_id));
          if (it != waiting.end()) {
            latencies.push_back(
                std::chrono::duration<double, std::milli>(envelope.created - it->second).count());
            last = std::max(last, std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                                      envelope.created));
            waiting.erase(it);
          }
        }
        return !waiting.empty() && Clock::now() < until;
      },
      [](const Error&) { return true; });
  return {latencies, std::chrono::duration<double>(last - first).count()};
}

// The service's commits so far, from its /metrics: per writer, transactions, events per
// transaction and the mean time to commit one (where an end-to-end run spends its writes).
void print_commits(const std::string& address) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code error;
  stream.connect(endpoint_of(address), error);
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, "/metrics", 11};
  request.set(bhttp::field::host, address);
  bhttp::response<bhttp::string_body> response;
  beast::flat_buffer buffer;
  if (!error) bhttp::write(stream, request, error);
  if (!error) bhttp::read(stream, buffer, response, error);
  if (error) {
    fmt::print(stderr, "serve_bench: GET /metrics: {}\n", error.message());
    return;
  }
  const std::string& text = response.body();
  const auto sample = [&text](const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0.0 : std::atof(text.c_str() + at + series.size() + 2);
  };
  for (const char* writer : {"submissions", "processor"}) {
    const std::string labels = fmt::format("{{writer=\"{}\"}}", writer);
    const double commits = sample("api_broker_store_commit_batch_events_count" + labels);
    const double events = sample("api_broker_store_commit_batch_events_sum" + labels);
    const double seconds = sample("api_broker_store_commit_duration_seconds_sum" + labels);
    fmt::print("  {} commits: {:.0f}, {:.1f} events each, {:.2f} ms each\n", writer, commits,
               commits > 0 ? events / commits : 0.0, commits > 0 ? 1000 * seconds / commits : 0.0);
  }
}

// Phase 3: the whole broker in this process on a fresh store.
void end_to_end(const api_broker::store::StoreOptions& store_options, const Settings& settings) {
  using namespace api_broker;
  brittle_api::Options api_options;  // zero latency, no failures
  auto api = brittle_api::Server::start("127.0.0.1:0", api_options);
  auto api_url =
      api ? http::parse_url((*api)->url()) : Result<http::Url>(fail(Errc::invalid_input, "no API"));
  if (!api || !api_url) {
    fmt::print(stderr, "serve_bench: the brittle API did not start\n");
    return;
  }
  service::ServiceOptions options;
  options.listen = "127.0.0.1:0";
  options.log =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  options.process = broker::ProcessorOptions{.api = *api_url};
  auto service = service::Service::start(options, [&] { return store::open_store(store_options); });
  if (!service) {
    fmt::print(stderr, "serve_bench: {}\n", service.error().message);
    return;
  }
  Settings clients = settings;
  clients.connections = 16;
  {
    const Tally tally = run_clients((*service)->address(), clients, false, settings.requests);
    const auto [latencies, span] = outcomes(store_options, tally, std::chrono::seconds(300));
    fmt::print(
        "end to end ({}), 16 clients, one request per call: {} outcomes of {} in {:.2f} s = "
        "{:.0f} requests/s (send to outcome p50 {:.1f} ms)\n",
        store_options.driver, latencies.size(), tally.accepted, span,
        span > 0 ? static_cast<double>(latencies.size()) / span : 0.0,
        bench::percentile(latencies, 50));
    print_commits((*service)->address());
  }
  {
    clients.rate = 100;
    const auto count = static_cast<std::uint64_t>(100 * settings.seconds);
    const Tally tally = run_clients((*service)->address(), clients, true, count);
    const auto [latencies, span] = outcomes(store_options, tally, std::chrono::seconds(60));
    fmt::print(
        "end to end, paced 100/s: {} outcomes; send to outcome ms p50 {:.2f} p99 {:.2f} max "
        "{:.2f}\n",
        latencies.size(), bench::percentile(latencies, 50), bench::percentile(latencies, 99),
        bench::percentile(latencies, 100));
  }
  (*service)->stop();
}

// Phases 1 and 2: submissions only (no processor), on `store_options`.
void submissions(const api_broker::store::StoreOptions& store_options, const Settings& settings) {
  using namespace api_broker;
  service::ServiceOptions options;
  options.listen = "127.0.0.1:0";
  options.log =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto service = service::Service::start(options, [&] { return store::open_store(store_options); });
  if (!service) {
    fmt::print(stderr, "serve_bench: {}\n", service.error().message);
    std::exit(1);
  }
  fmt::print("serve_bench: {} on {}, {} connections, {} s each (store: {}, sync=full)\n",
             (*service)->url(), store_options.driver, settings.connections, settings.seconds,
             store_options.driver == "postgresql" ? "a scratch database" : store_options.db_path);
  {
    bench::Stopwatch watch;
    const Tally tally = run_clients((*service)->address(), settings, false);
    print("throughput", tally, watch.seconds());
  }
  {
    bench::Stopwatch watch;
    const Tally tally = run_clients((*service)->address(), settings, true);
    print(fmt::format("paced {:.0f}/s", settings.rate).c_str(), tally, watch.seconds());
  }
  (*service)->stop();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace api_broker;
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") settings.seconds = std::atof(argv[i + 1]);
    if (flag == "--connections") settings.connections = std::atoi(argv[i + 1]);
    if (flag == "--rate") settings.rate = std::atof(argv[i + 1]);
    if (flag == "--requests") settings.requests = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--postgresql") settings.postgresql_url = argv[i + 1];
    if (flag == "--phases") {
      const std::string phases = argv[i + 1];
      settings.submit = phases.find("submit") != std::string::npos;
      settings.end_to_end = phases.find("end-to-end") != std::string::npos;
    }
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("serve_bench_{}", static_cast<long>(::getpid()));
  std::filesystem::create_directories(dir);
  // Each phase on a fresh store: a new SQLite file, or a scratch database on the cluster.
  const auto run_on_fresh_store = [&](const char* name, auto phase) {
    store::StoreOptions store_options;
    if (settings.postgresql_url.empty()) {
      store_options.db_path = (dir / fmt::format("{}.db", name)).string();
      phase(store_options, settings);
    } else {
      const bench::pg::ScratchDatabase scratch(settings.postgresql_url, name);
      store_options.driver = "postgresql";
      store_options.url = scratch.url();
      phase(store_options, settings);
    }
  };
  if (settings.submit) run_on_fresh_store("submissions", submissions);
  if (settings.end_to_end) run_on_fresh_store("end_to_end", end_to_end);
  std::filesystem::remove_all(dir);
  return 0;
}
