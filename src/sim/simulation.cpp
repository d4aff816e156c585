#include "simulation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "api_broker/broker/audit.hpp"
#include "api_broker/core/request_machine.hpp"
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

// The default target's limits in half of the worlds, from a generator of their own so that
// the rest of a seed's world is drawn as before.
core::TargetLimits draw_target_limits(std::uint64_t seed) {
  Random random(seed ^ 0x7a46e7c1b2d3f405ULL);
  core::TargetLimits t;
  if (!random.chance(0.5)) return t;
  t.calls_max = random.chance(0.7) ? static_cast<std::uint32_t>(random.between(1, 8)) : 0;
  t.rate = random.chance(0.5) ? seconds(1 + random.unit() * 50) : 0.0;
  t.burst = random.chance(0.5) ? static_cast<double>(random.between(1, 10)) : 0.0;
  if (random.chance(0.7)) {
    t.breaker_failures = random.chance(0.7) ? static_cast<std::uint32_t>(random.between(1, 6)) : 0;
    t.breaker_ratio = random.chance(0.5) ? seconds(0.3 + random.unit() * 0.6) : 0.0;
    if (t.breaker_failures == 0 && t.breaker_ratio == 0) t.breaker_failures = 3;
    t.breaker_window = seconds(1 + random.unit() * 20);
    t.breaker_pause = seconds(0.1 + random.unit() * 5);
  }
  t.abandon_on_timeout = random.chance(0.5);
  return t;
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

// One run: the world drawn from the seed, the processors that act in it (crashed, restarted,
// paused and taken over by a standby), the clients, and the checks once it settled. Every
// draw from `random_` happens in the same order for the same seed.
class Run {
 public:
  Run(std::uint64_t seed, std::shared_ptr<spdlog::logger> log)
      : seed_(seed), log_(std::move(log)), random_(seed), scheduler_(start) {
    memory_->clock = [this] { return scheduler_.now(); };
  }

  SimulationReport go(bool keep_history);

 private:
  static constexpr TimePoint start{std::chrono::seconds(1798761600)};  // 2027-01-01T00:00:00Z

  void draw_world();
  std::shared_ptr<SimulatedProcessor> make();
  void boot();
  void took_over(SimulatedProcessor& p);
  void lost(SimulatedProcessor& p);
  void schedule_crashes();
  void schedule_pauses();
  void pause_processor(Duration length);
  void insert(const events::NewEvent& event);
  void schedule_clients();
  // The clients' cancels and retries: each looks at the request's state first (as the
  // commands and the HTTP service do) and appends only what the state allows.
  void schedule_cancel_and_retry(std::uint64_t index, TimePoint inserted_at);
  void cancel(std::uint64_t index);
  void retry(std::uint64_t index, int tries_left);
  [[nodiscard]] std::optional<core::RequestState> state_of(std::uint64_t index) const;
  bool settle();
  void check(const std::vector<events::Envelope>& history);
  void report_figures(const broker::AuditReport& audit, bool keep_history);

  std::uint64_t seed_;
  std::shared_ptr<spdlog::logger> log_;
  SimulationReport report_;
  Random random_;
  // The clients' cancels and retries, drawn apart so that the rest of a seed's world (its
  // crashes, pauses, API) stays what it was before they existed.
  Random clients_random_{seed_ ^ 0x5c1e7a3b9d2f4e61ULL};
  Scheduler scheduler_;
  std::shared_ptr<store::MemoryLog> memory_ = std::make_shared<store::MemoryLog>();
  store::MemoryStore store_{memory_};

  // The world of this seed.
  Duration window_{};
  std::uint64_t requests_ = 0;
  std::optional<SimulatedApi> api_;
  StoreFaults faults_;
  broker::ProcessorOptions options_;
  Duration ttl_{};
  std::map<std::uint64_t, events::EventId> inserted_;  // request index -> its event id

  // The processor, its crashes and restarts; its pauses, and the standby that takes over.
  SimulatedProcessorStats stats_;
  std::shared_ptr<SimulatedProcessor> processor_;  // the one that acts (or waits to)
  std::shared_ptr<SimulatedProcessor> standby_;    // booted while the processor was paused
  std::vector<std::shared_ptr<SimulatedProcessor>> deposed_;  // paused, overtaken, not told yet
  std::vector<Downtime> downtimes_;
  std::optional<TimePoint> down_since_;  // the acting processor stopped acting (a pause)
  std::uint64_t boots_ = 0;
};

void Run::draw_world() {
  window_ = random_.between(Duration(1s), Duration(120s));
  requests_ = random_.chance(0.1) ? random_.between(200, 1000) : random_.between(1, 120);
  Random api_random = random_.fork();
  api_.emplace(scheduler_, api_random, draw_api_profile(random_, start, window_));
  faults_ = draw_store_faults(random_);
  options_.api = *http::parse_url("http://api.invalid");
  options_.requests_in_flight_max =
      random_.chance(0.3) ? random_.between(1, 8) : limits::requests_in_flight_max;
  log_->info(
      "world of seed {}: {} requests over {:.3f} s; in-flight bound {}; store: commits fail "
      "{:.3f}, reads fail {:.3f}, latency {}..{} us, slow {:.3f} at {}..{} us, {} events per "
      "read",
      seed_, requests_, to_seconds(window_), options_.requests_in_flight_max, faults_.commit_fails,
      faults_.read_fails, faults_.latency_low.count(), faults_.latency_high.count(), faults_.slow,
      faults_.slow_low.count(), faults_.slow_high.count(), faults_.read_limit);
  ttl_ = random_.between(Duration(300ms), Duration(3s));
  options_.default_target = draw_target_limits(seed_);
  const core::TargetLimits& t = options_.default_target;
  log_->info(
      "target limits of seed {}: {} calls at once, rate {}/s burst {}, breaker after {} failures "
      "or ratio {} over {} s, pause {} s, {} on timeout",
      seed_, t.calls_max, t.rate, t.burst, t.breaker_failures, t.breaker_ratio, t.breaker_window,
      t.breaker_pause, t.abandon_on_timeout ? "abandon" : "keep");
}

std::shared_ptr<SimulatedProcessor> Run::make() {
  LeaseHooks hooks;
  hooks.took_over = [this](SimulatedProcessor& p) { took_over(p); };
  hooks.lost = [this](SimulatedProcessor& p) { lost(p); };
  return std::make_shared<SimulatedProcessor>(
      scheduler_, *api_, store_, random_.fork(), faults_, options_, log_, stats_,
      SimulatedLease{fmt::format("sim-{}", ++boots_), ttl_}, std::move(hooks));
}

void Run::boot() {
  processor_ = make();
  if (auto started = processor_->start(); !started) {
    report_.violations.push_back("the processor cannot restart: " + started.error().message);
    processor_.reset();
  }
}

// It waited for the lease: the log was not processed from when the previous holder stopped
// (or from when this one started waiting) until now.
void Run::took_over(SimulatedProcessor& p) {
  downtimes_.push_back(Downtime{down_since_.value_or(p.waiting_since()), scheduler_.now()});
  down_since_.reset();
  if (&p != standby_.get()) return;  // a restarted processor that had to wait
  ++report_.takeovers;
  if (processor_) deposed_.push_back(std::move(processor_));
  processor_ = std::move(standby_);
}

// Dropped once its task is over (it runs inside it now).
void Run::lost(SimulatedProcessor& p) {
  scheduler_.after(Duration(0), [this, lost = &p] {
    std::erase_if(deposed_, [lost](const auto& d) { return d.get() == lost; });
    if (processor_.get() != lost) return;
    // The acting processor lost its lease without a pause (a renewal slower than the
    // TTL): as the real one, it restarts as a standby, with its state read afresh.
    if (!down_since_) down_since_ = scheduler_.now();
    if (standby_) {
      processor_ = std::move(standby_);
    } else {
      boot();
    }
  });
}

void Run::schedule_crashes() {
  const std::uint64_t crashes = random_.chance(0.6) ? random_.between(1, 6) : 0;
  for (std::uint64_t i = 0; i < crashes; ++i) {
    scheduler_.at(start + random_.between(Duration(0), window_ + Duration(5s)), [this] {
      if (!processor_) return;  // down already
      processor_.reset();       // releases the lease if it holds it
      standby_.reset();         // restarts with it, below
      down_since_.reset();
      ++report_.crashes;
      const Duration down = random_.between(Duration(1ms), Duration(3s));
      downtimes_.push_back(Downtime{scheduler_.now(), scheduler_.now() + down});
      scheduler_.after(down, [this] { boot(); });
    });
  }
}

// A pause longer than the TTL (a SIGSTOP, a long GC, a frozen VM): a standby takes over
// once the lease expires, and the paused one must find out, when it resumes, that it lost.
void Run::schedule_pauses() {
  const std::uint64_t pauses = random_.chance(0.2) ? random_.between(1, 3) : 0;
  for (std::uint64_t i = 0; i < pauses; ++i) {
    const Duration length = ttl_ + random_.between(Duration(0), Duration(5s));
    scheduler_.at(start + random_.between(Duration(0), window_ + Duration(5s)),
                  [this, length] { pause_processor(length); });
  }
}

void Run::pause_processor(Duration length) {
  if (!processor_ || !processor_->started() || processor_->lost() || processor_->paused()) {
    return;
  }
  ++report_.pauses;
  const TimePoint from = scheduler_.now();
  processor_->pause(from + length);
  down_since_ = from;
  if (!standby_) {
    standby_ = make();
    if (auto started = standby_->start(); !started) {
      report_.violations.push_back("the standby cannot start: " + started.error().message);
      standby_.reset();
    }
  }
  // Resumed before anyone took the lease over: it goes on, and was down meanwhile.
  scheduler_.at(from + length,
                [this, paused = std::weak_ptr<SimulatedProcessor>(processor_), from, length] {
                  if (paused.lock() != processor_) return;
                  downtimes_.push_back(Downtime{from, from + length});
                  down_since_.reset();
                });
}

void Run::insert(const events::NewEvent& event) {
  auto id = store_.append(event);
  if (!id && id.error().code != Errc::duplicate) {
    report_.violations.push_back("a client insert failed: " + id.error().message);
  }
  if (processor_) processor_->appended_elsewhere();
}

// The request's events folded as `api-broker cancel` / `retry` fold them: under the policy in
// force at the request, and at each round's request-retried.
std::optional<core::RequestState> Run::state_of(std::uint64_t index) const {
  const auto found = inserted_.find(index);
  if (found == inserted_.end()) return std::nullopt;
  const events::EventId id = found->second;
  core::Policy policy;
  std::optional<core::RequestState> state;
  for (const events::Envelope& envelope : memory_->events) {
    if (const auto* c = std::get_if<events::Configuration>(&envelope.event)) {
      if (auto next = core::apply(policy, *c)) policy = *next;
    } else if (envelope.id == id) {
      state = core::start(envelope, policy);
    } else if (state && envelope.causation_id == id) {
      const std::uint32_t round = state->round;
      state = core::evolve(std::move(*state), envelope);
      if (state->round != round) state->policy = policy;
    }
  }
  return state;
}

void Run::cancel(std::uint64_t index) {
  const auto state = state_of(index);
  if (!state || core::cannot_cancel(*state)) return;
  insert(events::NewEvent{.event = events::RequestCancelled{.reason = "by a client"},
                          .causation_id = state->request});
}

// Retries the request once it failed; looks again later while it is unfinished.
void Run::retry(std::uint64_t index, int tries_left) {
  const auto state = state_of(index);
  if (state && !core::cannot_retry(*state)) {
    const events::RequestRetried retried = core::retried_event(*state, "by a client");
    insert(events::NewEvent{
        .event = retried,
        .causation_id = state->request,
        .external_uuid = events::retry_uuid(events::to_int(state->request), retried.round)});
    return;
  }
  if (tries_left <= 0 || (state && core::is_terminal(*state))) return;  // succeeded
  scheduler_.at(scheduler_.now() + clients_random_.between(Duration(1s), Duration(10s)),
                [this, index, tries_left] { retry(index, tries_left - 1); });
}

void Run::schedule_cancel_and_retry(std::uint64_t index, TimePoint inserted_at) {
  if (clients_random_.chance(0.1)) {
    scheduler_.at(inserted_at + clients_random_.between(Duration(0), Duration(20s)),
                  [this, index] { cancel(index); });
  }
  if (clients_random_.chance(0.2)) {
    scheduler_.at(inserted_at + clients_random_.between(Duration(1s), Duration(30s)),
                  [this, index] { retry(index, 5); });
  }
}

void Run::schedule_clients() {
  if (random_.chance(0.8)) insert(events::NewEvent{.event = draw_policy(random_)});
  const std::uint64_t configurations = random_.between(0, 3);
  for (std::uint64_t i = 0; i < configurations; ++i) {
    scheduler_.at(
        start + random_.between(Duration(0), window_),
        [this, event = events::NewEvent{.event = draw_policy(random_)}] { insert(event); });
  }
  for (std::uint64_t i = 0; i < requests_; ++i) {
    events::NewEvent event{.event =
                               events::Request{fmt::format("request {} of seed {}", i, seed_)}};
    if (random_.chance(0.5)) event.external_uuid = draw_uuid(random_);
    const TimePoint at = start + random_.between(Duration(0), window_);
    scheduler_.at(at, [this, event, i] {
      insert(event);
      if (!memory_->events.empty() && memory_->events.back().event == event.event) {
        inserted_.emplace(i, memory_->events.back().id);
      }
    });
    if (event.external_uuid && random_.chance(0.05)) {  // the client retries its insert
      scheduler_.at(at + random_.between(Duration(0), Duration(5s)),
                    [this, event] { insert(event); });
    }
    schedule_cancel_and_retry(i, at);
  }
}

// Until nothing is left to do: lease renewals and a standby's polls go on forever, and count
// only while the acting processor waits for the lease.
bool Run::settle() {
  while ((scheduler_.busy() || (processor_ && processor_->wants_lease())) &&
         scheduler_.run_next()) {
    if (scheduler_.steps() > steps_max) {
      report_.violations.push_back(
          fmt::format("the run did not settle after {} steps", scheduler_.steps()));
      return false;
    }
  }
  return true;
}

void Run::check(const std::vector<events::Envelope>& history) {
  for (std::string& v : check_calls(history, api_->calls())) report_.violations.push_back(v);
  // The store's share of a deadline: a few round trips at its slowest, and twice the time to
  // read the whole log at its pace (a restart reads it again from the checkpoint).
  // A restart's catch-up also loads the request of each request-retried it reads (the reading
  // waits for it): one more store read each.
  const auto retried = static_cast<std::size_t>(
      std::count_if(history.begin(), history.end(), [](const events::Envelope& e) {
        return std::holds_alternative<events::RequestRetried>(e.event);
      }));
  const std::size_t whole_reads = history.size() / faults_.read_limit + 1 + retried;
  const auto reads = static_cast<double>(whole_reads);
  const double read_seconds = to_seconds(faults_.latency_high) + faults_.read_fails * 0.5 +
                              faults_.slow * to_seconds(faults_.slow_high);
  const Duration slack = 4 * (std::max(faults_.latency_high, faults_.slow_high) + Duration(1s)) +
                         from_seconds(2 * reads * read_seconds);
  for (std::string& v : check_deadlines(history, downtimes_, stats_.parked, slack)) {
    report_.violations.push_back(v);
  }
  for (std::string& v : check_target_limits(options_.default_target, stats_.calls_at_once_max_seen,
                                            stats_.attempt_times)) {
    report_.violations.push_back(v);
  }
  if (stats_.in_flight_max_seen > options_.requests_in_flight_max) {
    report_.violations.push_back(fmt::format("{} requests were in flight, above the bound of {}",
                                             stats_.in_flight_max_seen,
                                             options_.requests_in_flight_max));
  }
}

void Run::report_figures(const broker::AuditReport& audit, bool keep_history) {
  const std::vector<events::Envelope>& history = memory_->events;
  report_.requests = audit.requests;
  report_.events = history.size();
  report_.attempts = audit.attempts;
  report_.api_calls = api_->calls().size();
  report_.succeeded = audit.succeeded;
  report_.failed = audit.failed;
  report_.store_faults = stats_.store_faults;
  report_.parked = stats_.parked.size();
  report_.lost_fenced = stats_.lost_fenced;
  report_.lost_renewing = stats_.lost_renewing;
  report_.held_back = stats_.held_back;
  report_.breaker_transitions = audit.breaker_transitions;
  report_.cancels = audit.cancels;
  report_.rounds = audit.rounds;
  report_.calls_at_once_max = stats_.calls_at_once_max_seen;
  report_.steps = scheduler_.steps();
  report_.simulated = scheduler_.now() - start;
  report_.log_digest = digest(history);
  for (const Downtime& d : downtimes_) {
    report_.downtimes.push_back(
        fmt::format("{} .. {}", events::format_time(d.from), events::format_time(d.until)));
  }
  if (keep_history) report_.history = history;
}

SimulationReport Run::go(bool keep_history) {
  report_.seed = seed_;
  draw_world();
  scheduler_.at(start, [this] { boot(); });
  schedule_crashes();
  schedule_pauses();
  schedule_clients();
  if (settle()) {
    // Once everything is finished, a restarted processor has nothing to do.
    const std::size_t before = memory_->events.size();
    boot();
    if (settle() && memory_->events.size() != before) {
      report_.violations.push_back(
          fmt::format("a processor restarted on the finished log appended {} events",
                      memory_->events.size() - before));
    }
  }
  processor_.reset();
  standby_.reset();
  deposed_.clear();
  for (const std::string& e : stats_.errors) {
    report_.violations.push_back("a processor that took the lease cannot start: " + e);
  }
  broker::Auditor auditor(broker::AuditOptions{.require_finished = true});
  for (const events::Envelope& envelope : memory_->events) auditor.add(envelope);
  const broker::AuditReport audit = auditor.finish();
  for (const broker::Violation& v : audit.violations) {
    report_.violations.push_back(fmt::format("event {} (request {}): {}", events::to_int(v.event),
                                             events::to_int(v.request), v.text));
  }
  check(memory_->events);
  report_figures(audit, keep_history);
  return std::move(report_);
}

}  // namespace

SimulationReport simulate(std::uint64_t seed, std::shared_ptr<spdlog::logger> log,
                          bool keep_history) {
  Run run(seed, std::move(log));
  return run.go(keep_history);
}

}  // namespace api_broker::sim
