// The read model on a large log (issue 12: "listing failed requests and one request's detail on
// a log of 1,000,000 requests: p99 under 10 ms"). Writes a SQLite log of N requests (most
// succeeded, some after a retry, some failed, the newest unfinished, spread over several
// targets), then prints: the time LiveView takes to rebuild the view from it, the memory held
// per request, and p50/p99/max of list(failed, limit 100), list(failed, target, limit 100),
// list(succeeded, limit 100), detail() and find() under LiveView's shared lock.
//
//   view_bench [--requests N] [--failed-every K] [--targets T] [--db PATH] [--keep]

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/limits.hpp"
#include "api_broker/store/sqlite_store.hpp"
#include "api_broker/view/live_view.hpp"
#include "stats.hpp"

namespace api_broker::bench {
namespace {

using events::EventId;
using events::NewEvent;

struct Options {
  std::size_t requests = 1'000'000;
  std::size_t failed_every = 50;   // 2% failed
  std::size_t retried_every = 10;  // 10% succeed at their second attempt
  std::size_t targets = 8;
  std::size_t unfinished = 1000;  // the newest ones
  std::string db;
  bool keep = false;
};

std::string target_name(std::size_t i, std::size_t targets) {
  return fmt::format("partner-{}", i % targets);
}

// The events of request number `i` after its request event (causation filled in later).
void history(std::size_t i, const Options& o, std::vector<events::Event>& out) {
  if (i + o.unfinished >= o.requests) {
    out.emplace_back(events::ApiRequest{.attempt = 0});  // in flight
    return;
  }
  if (i % o.failed_every == 0) {
    out.emplace_back(events::ApiRequest{.attempt = 0});
    out.emplace_back(events::ApiFailure{
        .attempt = 0, .failure = "HTTP 422 Unprocessable Entity", .status = 422, .body = "bad"});
    out.emplace_back(
        events::RequestFailed{.attempts = 1, .reason = "HTTP 422 Unprocessable Entity"});
    return;
  }
  std::uint32_t attempt = 0;
  if (i % o.retried_every == 0) {
    out.emplace_back(events::ApiRequest{.attempt = 0});
    out.emplace_back(
        events::ApiFailure{.attempt = 0, .failure = "HTTP 503 Service Unavailable", .status = 503});
    attempt = 1;
  }
  out.emplace_back(events::ApiRequest{.attempt = attempt});
  out.emplace_back(events::ApiResponse{
      .attempt = attempt, .response = fmt::format("{{\"order\":{}}}", i), .status = 200});
  out.emplace_back(events::RequestSucceeded{.attempts = attempt + 1, .attempt = attempt});
}

// Writes the log; returns a sample of (uuid, request id) for lookups.
std::vector<std::pair<events::Uuid, EventId>> write_log(store::EventStore& store,
                                                        const Options& o) {
  std::vector<std::pair<events::Uuid, EventId>> sample;
  const Stopwatch watch;
  std::size_t events_written = 0;
  // Targets first, so the requests' rules come from them.
  for (std::size_t t = 0; t < o.targets; ++t) {
    auto id = store.append(
        NewEvent{.event = events::Target{.name = target_name(t, o.targets),
                                         .url = fmt::format("http://partner-{}.test/v1", t)}});
    if (!id) throw std::runtime_error(id.error().message);
  }
  // Requests in batches: first the requests, then (in the next batch) their histories, so
  // the histories can name their ids; a request's events are interleaved with others'.
  constexpr std::size_t requests_per_batch = 512;
  std::vector<events::Event> events_of;
  for (std::size_t first = 0; first < o.requests; first += requests_per_batch) {
    const std::size_t n = std::min(requests_per_batch, o.requests - first);
    std::vector<NewEvent> requests;
    for (std::size_t i = first; i < first + n; ++i) {
      const auto uuid = events::random_uuid();
      requests.push_back(
          NewEvent{.event = events::Request{.request = fmt::format("{{\"order\":{},\"qty\":1}}", i),
                                            .target = target_name(i, o.targets),
                                            .path = fmt::format("/orders/{}", i)},
                   .external_uuid = uuid});
    }
    auto ids = store.append_batch(requests);
    if (!ids) throw std::runtime_error(ids.error().message);
    std::vector<NewEvent> rest;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = first + k;
      if (i % 997 == 0) sample.emplace_back(*requests[k].external_uuid, (*ids)[k]);
      events_of.clear();
      history(i, o, events_of);
      for (auto& e : events_of) {
        rest.push_back(NewEvent{.event = std::move(e), .causation_id = (*ids)[k]});
      }
    }
    for (std::size_t from = 0; from < rest.size(); from += limits::append_batch_max) {
      const std::size_t count = std::min(limits::append_batch_max, rest.size() - from);
      auto stored = store.append_batch(std::span(rest).subspan(from, count));
      if (!stored) throw std::runtime_error(stored.error().message);
    }
    events_written += n + rest.size();
    if ((first / requests_per_batch) % 200 == 0) {
      fmt::print(stderr, "  written {} requests ({} events), {:.0f} s\n", first + n, events_written,
                 watch.seconds());
    }
  }
  fmt::print("log written: {} requests, {} events, in {:.1f} s\n", o.requests,
             events_written + o.targets, watch.seconds());
  return sample;
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

template <class F>
void measure(const char* what, std::size_t samples, F&& one) {
  std::vector<double> ms;
  ms.reserve(samples);
  std::size_t items = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    const double start = monotonic_ms();
    items += one(i);
    ms.push_back(monotonic_ms() - start);
  }
  fmt::print("  {:<44} p50 {:7.3f} ms  p99 {:7.3f} ms  max {:7.3f} ms  ({:.0f} items/query)\n",
             what, percentile(ms, 50), percentile(ms, 99), percentile(ms, 100),
             static_cast<double>(items) / static_cast<double>(samples));
}

int run(const Options& o) {
  const std::string db = o.db.empty() ? fmt::format("/tmp/view_bench_{}.db", getpid()) : o.db;
  const bool exists = std::filesystem::exists(db);
  auto writer = store::open_sqlite_store(store::SqliteOptions{.path = db, .durable = false});
  if (!writer) {
    fmt::print(stderr, "view_bench: {}\n", writer.error().message);
    return 1;
  }
  std::vector<std::pair<events::Uuid, EventId>> sample;
  if (!exists) {
    sample = write_log(**writer, o);
  } else {
    fmt::print("reusing {} (its UUIDs are not known: find() is not measured)\n", db);
  }
  const auto last = (*writer)->last_id();
  if (!last) return 1;

  {
    // What the rebuild costs beyond reading and decoding the log: the same reads, no fold.
    auto reader = store::open_sqlite_store(store::SqliteOptions{.path = db});
    if (!reader) return 1;
    const Stopwatch read_only;
    EventId position{};
    std::size_t read = 0;
    while (true) {
      auto batch = (*reader)->read_after(position, limits::read_batch_max);
      if (!batch || batch->empty()) break;
      read += batch->size();
      position = batch->back().id;
    }
    fmt::print("reading and decoding alone: {} events in {:.1f} s\n", read, read_only.seconds());
  }
  const std::size_t rss_before = resident_bytes();
  const Stopwatch rebuild;
  view::LiveView live([&]() { return store::open_sqlite_store(store::SqliteOptions{.path = db}); },
                      view::LiveViewOptions{.on_error = [](const Error& e) {
                        fmt::print(stderr, "view_bench: {}\n", e.message);
                      }});
  while (!live.caught_up()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double rebuild_s = rebuild.seconds();
  std::size_t held = 0;
  view::Counts counts;
  live.read([&](const view::RequestView& v) {
    held = v.memory_bytes();
    counts = v.counts();
  });
  const std::size_t rss_after = resident_bytes();
  const auto requests = static_cast<double>(counts.total());
  fmt::print(
      "rebuild: {} events ({} requests) folded by LiveView from SQLite in {:.1f} s "
      "({:.0f} events/s)\n",
      events::to_int(*last), counts.total(), rebuild_s,
      static_cast<double>(events::to_int(*last)) / rebuild_s);
  fmt::print("counts: waiting {} in flight {} backing off {} succeeded {} failed {}\n",
             counts.waiting, counts.in_flight, counts.backing_off, counts.succeeded, counts.failed);
  fmt::print(
      "memory: {:.0f} bytes/request held by the view (memory_bytes), {:.0f} bytes/request "
      "of resident set growth ({:.0f} MiB)\n",
      static_cast<double>(held) / requests, static_cast<double>(rss_after - rss_before) / requests,
      static_cast<double>(rss_after - rss_before) / (1024.0 * 1024.0));

  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::uint64_t> any_id(0, events::to_int(*last));
  const std::size_t samples = 20'000;
  fmt::print("queries ({} each, under LiveView's shared lock, random cursors):\n", samples);
  const auto list = [&](view::ListQuery q) {
    return [&, q](std::size_t) mutable {
      q.after = EventId{any_id(random)};
      std::size_t n = 0;
      live.read([&](const view::RequestView& v) { n = v.list(q).items.size(); });
      return n;
    };
  };
  measure("list(failed, limit 100)", samples, list({.phase = core::Phase::failed}));
  measure("list(failed, target partner-2, limit 100)", samples,
          list({.phase = core::Phase::failed, .target = "partner-2"}));
  measure("list(succeeded, limit 100)", samples, list({.phase = core::Phase::succeeded}));
  measure("list(in_flight, limit 100)", samples, list({.phase = core::Phase::in_flight}));
  measure("list(any, limit 1000)", samples / 10, list({.phase = std::nullopt, .limit = 1000}));
  std::vector<EventId> request_ids;
  live.read([&](const view::RequestView& v) {
    view::ListPage page;
    do {
      page = v.list({.after = page.next_after, .limit = limits::view_page_max});
      for (const auto& s : page.items) request_ids.push_back(s.id);
    } while (page.next_after != EventId{});
  });
  std::uniform_int_distribution<std::size_t> any_request(0, request_ids.size() - 1);
  measure("detail(random request)", samples, [&](std::size_t) {
    std::size_t n = 0;
    live.read([&](const view::RequestView& v) {
      const auto d = v.detail(request_ids[any_request(random)]);
      n = d ? d->attempts.size() : 0;
    });
    return n;
  });
  if (!sample.empty()) {
    measure("find(external uuid) + detail", samples, [&](std::size_t i) {
      std::size_t n = 0;
      live.read([&](const view::RequestView& v) {
        const auto id = v.find(sample[i % sample.size()].first);
        n = id && v.detail(*id) ? 1 : 0;
      });
      return n;
    });
  }
  live.stop();
  if (o.keep) fmt::print("kept {}\n", db);
  if (!o.keep && o.db.empty()) {
    std::filesystem::remove(db);
    std::filesystem::remove(db + "-wal");
    std::filesystem::remove(db + "-shm");
  }
  return 0;
}

}  // namespace
}  // namespace api_broker::bench

int main(int argc, char** argv) {
  api_broker::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "view_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--requests") {
      o.requests = std::stoul(value());
    } else if (arg == "--failed-every") {
      o.failed_every = std::max<std::size_t>(1, std::stoul(value()));
    } else if (arg == "--targets") {
      o.targets = std::max<std::size_t>(1, std::stoul(value()));
    } else if (arg == "--db") {
      o.db = value();
    } else if (arg == "--keep") {
      o.keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: view_bench [--requests N] [--failed-every K] [--targets T] "
                   "[--db PATH (reused if it exists)] [--keep]\n");
      return 2;
    }
  }
  o.unfinished = std::min(o.unfinished, o.requests / 10);
  try {
    return api_broker::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "view_bench: %s\n", e.what());
    return 1;
  }
}
