#include "simulation.hpp"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <optional>

#include "api_broker/broker/audit.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/memory_store.hpp"
#include "checks.hpp"
#include "random.hpp"
#include "scheduler.hpp"
#include "simulated_api.hpp"
#include "simulated_processor.hpp"

namespace api_broker::sim {
namespace {

using namespace std::chrono_literals;

// Scheduler tasks after which a run that has not settled counts as stuck.
constexpr std::uint64_t steps_max = 20'000'000;

// Seconds rounded to the millisecond: never a positive value below a microsecond.
double seconds(double value) { return std::round(value * 1000.0) / 1000.0; }

events::Configuration draw_policy(Random& random) {
  events::Configuration c;
  c.retries = static_cast<std::int64_t>(random.between(0, 6));
  c.timeout = random.chance(0.1) ? 0.0 : seconds(0.02 + random.unit() * 5.0);
  c.backoff_initial = seconds(random.unit());
  c.backoff_multiplier = 1.0 + seconds(random.unit() * 2.0);
  c.backoff_max = seconds(random.unit() * 10.0);
  c.backoff_jitter = seconds(random.unit());
  c.deadline = random.chance(0.5) ? 0.0 : seconds(0.1 + random.unit() * 60.0);
  return c;
}

events::Uuid draw_uuid(Random& random) {
  events::Uuid uuid;
  for (auto& byte : uuid.bytes) byte = static_cast<std::uint8_t>(random.next());
  uuid.bytes[6] = static_cast<std::uint8_t>((uuid.bytes[6] & 0x0f) | 0x40);
  uuid.bytes[8] = static_cast<std::uint8_t>((uuid.bytes[8] & 0x3f) | 0x80);
  return uuid;
}

std::string digest(const std::vector<events::Envelope>& log) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const events::Envelope& envelope : log) {
    for (const char c : events::envelope_to_line(envelope)) {
      hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace

SimulationReport simulate(std::uint64_t seed, std::shared_ptr<spdlog::logger> log,
                          bool keep_history) {
  SimulationReport report;
  report.seed = seed;
  Random random(seed);
  const TimePoint start{std::chrono::seconds(1798761600)};  // 2027-01-01T00:00:00Z
  Scheduler scheduler(start);
  auto memory = std::make_shared<store::MemoryLog>();
  memory->clock = [&scheduler] { return scheduler.now(); };
  store::MemoryStore store(memory);

  // The world of this seed.
  const Duration window = random.between(Duration(1s), Duration(120s));
  const std::uint64_t requests =
      random.chance(0.1) ? random.between(200, 1000) : random.between(1, 120);
  Random api_random = random.fork();
  SimulatedApi api(scheduler, api_random, draw_api_profile(random, start, window));
  const StoreFaults faults = draw_store_faults(random);
  broker::ProcessorOptions options;
  options.api = *http::parse_url("http://api.invalid");
  options.requests_in_flight_max =
      random.chance(0.3) ? random.between(1, 8) : limits::requests_in_flight_max;

  log->info(
      "world of seed {}: {} requests over {:.3f} s; in-flight bound {}; store: commits fail "
      "{:.3f}, reads fail {:.3f}, latency {}..{} us, slow {:.3f} at {}..{} us, {} events per "
      "read",
      seed, requests, to_seconds(window), options.requests_in_flight_max, faults.commit_fails,
      faults.read_fails, faults.latency_low.count(), faults.latency_high.count(), faults.slow,
      faults.slow_low.count(), faults.slow_high.count(), faults.read_limit);

  // The processor, its crashes and restarts; its pauses, and the standby that takes over.
  const Duration ttl = random.between(Duration(300ms), Duration(3s));
  SimulatedProcessorStats stats;
  std::shared_ptr<SimulatedProcessor> processor;  // the one that acts (or waits to)
  std::shared_ptr<SimulatedProcessor> standby;    // booted while the processor was paused
  std::vector<std::shared_ptr<SimulatedProcessor>> deposed;  // paused, overtaken, not told yet
  std::vector<Downtime> downtimes;
  std::optional<TimePoint> down_since;  // the acting processor stopped acting (a pause)
  std::uint64_t boots = 0;
  std::function<void()> boot;
  auto make = [&] {
    LeaseHooks hooks;
    hooks.took_over = [&](SimulatedProcessor& p) {
      // It waited for the lease: the log was not processed from when the previous holder
      // stopped (or from when this one started waiting) until now.
      downtimes.push_back(Downtime{down_since.value_or(p.waiting_since()), scheduler.now()});
      down_since.reset();
      if (&p != standby.get()) return;  // a restarted processor that had to wait
      ++report.takeovers;
      if (processor) deposed.push_back(std::move(processor));
      processor = std::move(standby);
    };
    hooks.lost = [&](SimulatedProcessor& p) {
      // Dropped once its task is over (it runs inside it now).
      scheduler.after(Duration(0), [&, lost = &p] {
        std::erase_if(deposed, [lost](const auto& d) { return d.get() == lost; });
        if (processor.get() != lost) return;
        // The acting processor lost its lease without a pause (a renewal slower than the
        // TTL): as the real one, it restarts as a standby, with its state read afresh.
        if (!down_since) down_since = scheduler.now();
        if (standby) {
          processor = std::move(standby);
        } else {
          boot();
        }
      });
    };
    return std::make_shared<SimulatedProcessor>(
        scheduler, api, store, random.fork(), faults, options, log, stats,
        SimulatedLease{fmt::format("sim-{}", ++boots), ttl}, std::move(hooks));
  };
  boot = [&] {
    processor = make();
    if (auto started = processor->start(); !started) {
      report.violations.push_back("the processor cannot restart: " + started.error().message);
      processor.reset();
    }
  };
  scheduler.at(start, boot);
  const std::uint64_t crashes = random.chance(0.6) ? random.between(1, 6) : 0;
  for (std::uint64_t i = 0; i < crashes; ++i) {
    scheduler.at(start + random.between(Duration(0), window + Duration(5s)), [&] {
      if (!processor) return;  // down already
      processor.reset();       // releases the lease if it holds it
      standby.reset();         // restarts with it, below
      down_since.reset();
      ++report.crashes;
      const Duration down = random.between(Duration(1ms), Duration(3s));
      downtimes.push_back(Downtime{scheduler.now(), scheduler.now() + down});
      scheduler.after(down, boot);
    });
  }
  // A pause longer than the TTL (a SIGSTOP, a long GC, a frozen VM): a standby takes over
  // once the lease expires, and the paused one must find out, when it resumes, that it lost.
  const std::uint64_t pauses = random.chance(0.2) ? random.between(1, 3) : 0;
  for (std::uint64_t i = 0; i < pauses; ++i) {
    const Duration length = ttl + random.between(Duration(0), Duration(5s));
    scheduler.at(start + random.between(Duration(0), window + Duration(5s)), [&, length] {
      if (!processor || !processor->started() || processor->lost() || processor->paused()) {
        return;
      }
      ++report.pauses;
      const TimePoint from = scheduler.now();
      processor->pause(from + length);
      down_since = from;
      if (!standby) {
        standby = make();
        if (auto started = standby->start(); !started) {
          report.violations.push_back("the standby cannot start: " + started.error().message);
          standby.reset();
        }
      }
      // Resumed before anyone took the lease over: it goes on, and was down meanwhile.
      scheduler.at(from + length,
                   [&, paused = std::weak_ptr<SimulatedProcessor>(processor), from, length] {
                     if (paused.lock() != processor) return;
                     downtimes.push_back(Downtime{from, from + length});
                     down_since.reset();
                   });
    });
  }

  // The clients.
  auto insert = [&](events::NewEvent event) {
    auto id = store.append(event);
    if (!id && id.error().code != Errc::duplicate) {
      report.violations.push_back("a client insert failed: " + id.error().message);
    }
    if (processor) processor->appended_elsewhere();
  };
  if (random.chance(0.8)) insert(events::NewEvent{.event = draw_policy(random)});
  const std::uint64_t configurations = random.between(0, 3);
  for (std::uint64_t i = 0; i < configurations; ++i) {
    scheduler.at(
        start + random.between(Duration(0), window),
        [&insert, event = events::NewEvent{.event = draw_policy(random)}] { insert(event); });
  }
  for (std::uint64_t i = 0; i < requests; ++i) {
    events::NewEvent event{.event = events::Request{fmt::format("request {} of seed {}", i, seed)}};
    if (random.chance(0.5)) event.external_uuid = draw_uuid(random);
    const TimePoint at = start + random.between(Duration(0), window);
    scheduler.at(at, [&insert, event] { insert(event); });
    if (event.external_uuid && random.chance(0.05)) {  // the client retries its insert
      scheduler.at(at + random.between(Duration(0), Duration(5s)),
                   [&insert, event] { insert(event); });
    }
  }

  // Until nothing is left to do: lease renewals and a standby's polls go on forever, and count
  // only while the acting processor waits for the lease.
  auto settle = [&] {
    while ((scheduler.busy() || (processor && processor->wants_lease())) && scheduler.run_next()) {
      if (scheduler.steps() > steps_max) {
        report.violations.push_back(
            fmt::format("the run did not settle after {} steps", scheduler.steps()));
        return false;
      }
    }
    return true;
  };
  if (settle()) {
    // Once everything is finished, a restarted processor has nothing to do.
    const std::size_t before = memory->events.size();
    boot();
    if (settle() && memory->events.size() != before) {
      report.violations.push_back(
          fmt::format("a processor restarted on the finished log appended {} events",
                      memory->events.size() - before));
    }
  }
  processor.reset();
  standby.reset();
  deposed.clear();
  for (const std::string& e : stats.errors) {
    report.violations.push_back("a processor that took the lease cannot start: " + e);
  }

  // The checks.
  const std::vector<events::Envelope>& history = memory->events;
  broker::Auditor auditor(broker::AuditOptions{.require_finished = true});
  for (const events::Envelope& envelope : history) auditor.add(envelope);
  const broker::AuditReport audit = auditor.finish();
  for (const broker::Violation& v : audit.violations) {
    report.violations.push_back(fmt::format("event {} (request {}): {}", events::to_int(v.event),
                                            events::to_int(v.request), v.text));
  }
  for (std::string& v : check_calls(history, api.calls())) report.violations.push_back(v);
  // The store's share of a deadline: a few round trips at its slowest, and twice the time to
  // read the whole log at its pace (a restart reads it again from the checkpoint).
  const auto reads = static_cast<double>(history.size() / faults.read_limit + 1);
  const double read_seconds = to_seconds(faults.latency_high) + faults.read_fails * 0.5 +
                              faults.slow * to_seconds(faults.slow_high);
  const Duration slack = 4 * (std::max(faults.latency_high, faults.slow_high) + Duration(1s)) +
                         from_seconds(2 * reads * read_seconds);
  for (std::string& v : check_deadlines(history, downtimes, stats.parked, slack)) {
    report.violations.push_back(v);
  }
  if (stats.in_flight_max_seen > options.requests_in_flight_max) {
    report.violations.push_back(fmt::format("{} requests were in flight, above the bound of {}",
                                            stats.in_flight_max_seen,
                                            options.requests_in_flight_max));
  }

  report.requests = audit.requests;
  report.events = history.size();
  report.attempts = audit.attempts;
  report.api_calls = api.calls().size();
  report.succeeded = audit.succeeded;
  report.failed = audit.failed;
  report.store_faults = stats.store_faults;
  report.parked = stats.parked.size();
  report.lost_fenced = stats.lost_fenced;
  report.lost_renewing = stats.lost_renewing;
  report.held_back = stats.held_back;
  report.steps = scheduler.steps();
  report.simulated = scheduler.now() - start;
  report.log_digest = digest(history);
  for (const Downtime& d : downtimes) {
    report.downtimes.push_back(
        fmt::format("{} .. {}", events::format_time(d.from), events::format_time(d.until)));
  }
  if (keep_history) report.history = history;
  return report;
}

}  // namespace api_broker::sim
