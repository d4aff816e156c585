#include "api_broker/broker/processor.hpp"

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <set>

#include "api_broker/core/request_machine.hpp"
#include "api_broker/http/http_client.hpp"
#include "api_broker/limits.hpp"
#include "checkpoint.hpp"
#include "lease.hpp"
#include "store_worker.hpp"

namespace api_broker::broker {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using events::Envelope;
using events::EventId;

// What the processor appended for a request and waits to read back before deciding again.
struct Pending {
  std::size_t event_index;  // index in events::Event
  std::uint32_t attempt;
};

std::uint32_t attempt_of(const events::Event& event) {
  return std::visit(
      [](const auto& e) -> std::uint32_t {
        if constexpr (requires { e.attempt; }) {
          return e.attempt;
        } else {
          return 0;
        }
      },
      event);
}

struct Active {
  explicit Active(asio::io_context& io) : timer(io) {}
  core::RequestState state;
  std::string body;             // what to POST
  std::string idempotency_key;  // the same for every attempt
  std::optional<Pending> pending;
  std::map<std::uint32_t, http::CallId> calls;  // attempt -> call in flight
  asio::steady_timer timer;
  std::optional<TimePoint> timer_at;
};

class Processor {
 public:
  Processor(asio::io_context& io, const ProcessorOptions& options,
            std::shared_ptr<spdlog::logger> log, core::Policy policy)
      : io_(io),
        options_(options),
        log_(std::move(log)),
        policy_(policy),
        http_(io.get_executor(),
              http::ClientOptions{.body_bytes_stored_max = options.response_bytes_max}) {}

  void attach(StoreWorker* worker) { worker_ = worker; }

  // A batch read from the log. Decisions wait until the reader has caught up with the end of
  // the log, so that a restarted processor sees a request's whole history before acting.
  void on_events(const std::vector<Envelope>& batch, bool caught_up) {
    for (const Envelope& envelope : batch) fold(envelope);
    if (caught_up) {
      if (!caught_up_once_ && !batch.empty()) {
        caught_up_once_ = true;
        history_end_ = events::to_int(batch.back().id);
      }
      for (const std::uint64_t id : dirty_) step(id);
      dirty_.clear();
    }
    publish_checkpoint(batch.empty() ? EventId{} : batch.back().id);
    worker_->ack();
  }

  // Parked requests read back by the store worker: admit them now.
  void on_loaded(const std::vector<EventId>& asked, const std::vector<Envelope>& loaded) {
    for (const Envelope& envelope : loaded) {
      const auto it = loading_.find(events::to_int(envelope.id));
      const auto* request = std::get_if<events::Request>(&envelope.event);
      if (it == loading_.end() || request == nullptr) continue;
      admit(envelope, *request, *it->second);
      step(events::to_int(envelope.id));
    }
    for (const EventId id : asked) loading_.erase(events::to_int(id));
  }

  void shutdown() {
    stopping_ = true;
    for (auto& [id, active] : active_) {
      active->timer.cancel();
      for (const auto& [attempt, call] : active->calls) http_.cancel(call);
    }
  }

  ProcessorStats stats() const {
    ProcessorStats copy = stats_;
    copy.active = active_.size() + loading_.size();
    copy.parked = parked_.size();
    return copy;
  }

 private:
  void fold(const Envelope& envelope) {
    if (const auto* configuration = std::get_if<events::Configuration>(&envelope.event)) {
      auto policy = core::apply(policy_, *configuration);
      if (!policy) {
        log_->warn("ignoring configuration event {}: {}", events::to_int(envelope.id),
                   policy.error().message);
        return;
      }
      policy_ = *policy;
      log_->info(
          "policy from event {}: retries {}, timeout {:.3f}s, backoff {:.3f}s x{} max "
          "{:.3f}s jitter {}, deadline {:.3f}s",
          events::to_int(envelope.id), policy_.retries, to_seconds(policy_.attempt_timeout),
          to_seconds(policy_.backoff_initial), policy_.backoff_multiplier,
          to_seconds(policy_.backoff_max), policy_.backoff_jitter, to_seconds(policy_.deadline));
      return;
    }
    if (const auto* request = std::get_if<events::Request>(&envelope.event)) {
      auto active = std::make_unique<Active>(io_);
      active->state = core::start(envelope, policy_);
      active->body = request->request;
      active->idempotency_key = envelope.external_uuid
                                    ? events::to_string(*envelope.external_uuid)
                                    : fmt::format("api-broker-{}", events::to_int(envelope.id));
      ++stats_.requests_seen;
      dirty_.insert(events::to_int(envelope.id));
      active_.emplace(events::to_int(envelope.id), std::move(active));
      return;
    }
    const auto it = active_.find(events::to_int(envelope.causation_id));
    if (it == active_.end()) return;  // finished before our checkpoint, or not a request
    Active& active = *it->second;
    active.state = core::evolve(std::move(active.state), envelope);
    const std::uint32_t attempt = attempt_of(envelope.event);
    const bool ours = active.pending && active.pending->event_index == envelope.event.index() &&
                      active.pending->attempt == attempt;
    if (ours) active.pending.reset();
    if (std::holds_alternative<events::ApiRequest>(envelope.event) && ours) {
      launch(it->first, active, attempt);  // write-ahead: it is committed now
    }
    if (core::is_terminal(active.state)) {
      if (std::holds_alternative<events::RequestSucceeded>(envelope.event)) ++stats_.succeeded;
      if (std::holds_alternative<events::RequestFailed>(envelope.event)) ++stats_.failed;
      active.timer.cancel();
      for (const auto& [n, call] : active.calls) http_.cancel(call);
      dirty_.erase(it->first);
      active_.erase(it);
      unpark();
      return;
    }
    dirty_.insert(it->first);
  }

  std::size_t in_flight() const { return active_.size() + loading_.size(); }

  void admit(const Envelope& envelope, const events::Request& request, const core::Policy& policy) {
    auto active = std::make_unique<Active>(io_);
    active->state = core::start(envelope, policy);
    active->body = request.request;
    active->idempotency_key = envelope.external_uuid
                                  ? events::to_string(*envelope.external_uuid)
                                  : fmt::format("api-broker-{}", events::to_int(envelope.id));
    active_.emplace(events::to_int(envelope.id), std::move(active));
  }

  // Asks the store worker for as many parked requests as there are free places.
  void unpark() {
    std::vector<EventId> ids;
    while (!parked_.empty() && in_flight() < options_.requests_in_flight_max) {
      Parked next = std::move(parked_.front());
      parked_.pop_front();
      ids.push_back(EventId{next.id});
      loading_.emplace(next.id, std::move(next.policy));
    }
    if (!ids.empty()) worker_->load(std::move(ids));
  }

  void append(std::uint64_t id, Active& active, events::Event event, bool decision) {
    if (decision) active.pending = Pending{event.index(), attempt_of(event)};
    std::vector<events::NewEvent> batch;
    batch.push_back(events::NewEvent{.event = std::move(event), .causation_id = EventId{id}});
    worker_->append(std::move(batch));
  }

  // Asks the state machine what is due for request `id` and does it.
  void step(std::uint64_t id) {
    if (stopping_) return;
    const auto it = active_.find(id);
    if (it == active_.end()) return;
    Active& active = *it->second;
    if (active.pending) return;  // decide again once our last event is read back
    const core::RequestState& state = active.state;
    // An attempt started by an earlier run of the processor and never answered: nobody is
    // waiting for its answer any more, so it counts as timed out.
    if (!state.attempts.empty() && !state.terminal && !state.succeeded_attempt) {
      const auto newest = static_cast<std::uint32_t>(state.attempts.size() - 1);
      if (state.attempts.back().result == core::AttemptResult::in_flight &&
          active.calls.count(newest) == 0) {
        log_->info("request {}: attempt {} was started before a restart; counting it as timed out",
                   id, newest);
        append(id, active, events::ApiTimeout{newest}, true);
        return;
      }
    }
    const TimePoint now = utc_now();
    for (const core::Action& action : core::decide(state, now)) {
      std::visit(
          [&](const auto& a) {
            using A = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<A, core::StartAttempt>) {
              append(id, active, events::ApiRequest{a.attempt}, true);
            } else if constexpr (std::is_same_v<A, core::RecordTimeout>) {
              append(id, active, events::ApiTimeout{a.attempt}, true);
            } else if constexpr (std::is_same_v<A, core::Finish>) {
              append(id, active, core::terminal_event(a), true);
            } else {  // ArmTimeout, ScheduleAttempt: wake then and decide again
              arm(id, active, a.at);
            }
          },
          action);
    }
  }

  void arm(std::uint64_t id, Active& active, TimePoint at) {
    if (active.timer_at == at) return;
    active.timer_at = at;
    active.timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::max(at - utc_now(), Duration::zero())));
    active.timer.async_wait([this, id](const boost::system::error_code& error) {
      if (error) return;  // cancelled
      const auto it = active_.find(id);
      if (it == active_.end()) return;
      it->second->timer_at.reset();
      step(id);
    });
  }

  // The HTTP call of attempt `attempt`; its result is appended as a fact, whatever the state.
  void launch(std::uint64_t id, Active& active, std::uint32_t attempt) {
    if (stopping_) return;
    ++stats_.attempts_started;
    const core::Policy& policy = active.state.policy;
    // The call may outlive its attempt timeout: a late answer still counts as success.
    std::chrono::milliseconds limit{0};
    if (policy.attempt_timeout > Duration::zero()) {
      limit =
          std::chrono::duration_cast<std::chrono::milliseconds>(2 * policy.attempt_timeout) + 1s;
    } else if (policy.deadline > Duration::zero()) {
      limit = std::chrono::duration_cast<std::chrono::milliseconds>(policy.deadline) + 1s;
    }
    const http::CallId call =
        http_.post(options_.api, "/api", active.body, {{"Idempotency-Key", active.idempotency_key}},
                   limit, [this, id, attempt](Result<http::Response> answer) {
                     on_answer(id, attempt, std::move(answer));
                   });
    active.calls.emplace(attempt, call);
  }

  void on_answer(std::uint64_t id, std::uint32_t attempt, Result<http::Response> answer) {
    const auto it = active_.find(id);
    if (it == active_.end()) return;  // finished meanwhile
    Active& active = *it->second;
    active.calls.erase(attempt);
    if (!answer) {
      if (answer.error().code == Errc::cancelled) return;
      report_unreachable(answer.error().message);
      append(id, active,
             events::ApiFailure{.attempt = attempt, .failure = answer.error().message, .status = 0},
             false);
      return;
    }
    http::Response& response = *answer;
    if (response.status >= 200 && response.status < 300) {
      append(id, active,
             events::ApiResponse{.attempt = attempt,
                                 .response = std::move(response.body),
                                 .status = response.status,
                                 .truncated = response.truncated},
             false);
      return;
    }
    const std::size_t excerpt_max =
        std::min(limits::failure_body_bytes_max, options_.response_bytes_max);
    std::string excerpt = response.body.substr(0, excerpt_max);
    const bool truncated = response.truncated || response.body.size() > excerpt_max;
    append(id, active,
           events::ApiFailure{.attempt = attempt,
                              .failure = fmt::format("HTTP {}", response.status),
                              .status = response.status,
                              .body = std::move(excerpt),
                              .retry_after = response.retry_after_seconds.value_or(-1),
                              .truncated = truncated},
           false);
  }

  // The oldest unfinished request (active, being loaded or parked) bounds the checkpoint.
  // The API cannot be reached: say so, at most every 5 s, with how often it happened.
  void report_unreachable(const std::string& message) {
    ++unreachable_since_report_;
    const auto now = std::chrono::steady_clock::now();
    if (now - unreachable_reported_at_ < 5s) return;
    log_->warn("calls to {} fail: {} ({} failed calls without an answer since the last report)",
               http::to_string(options_.api), message, unreachable_since_report_);
    unreachable_reported_at_ = now;
    unreachable_since_report_ = 0;
  }

  void publish_checkpoint(EventId last) {
    if (last == EventId{}) return;
    Checkpoint checkpoint{last, policy_};
    auto consider = [&](std::uint64_t id, const core::Policy& policy) {
      if (id - 1 < events::to_int(checkpoint.after))
        checkpoint = Checkpoint{EventId{id - 1}, policy};
    };
    if (!active_.empty()) consider(active_.begin()->first, active_.begin()->second->state.policy);
    if (!loading_.empty()) consider(loading_.begin()->first, *loading_.begin()->second);
    if (!parked_.empty()) consider(parked_.front().id, *parked_.front().policy);
    worker_->set_checkpoint(encode_checkpoint(checkpoint));
  }

  asio::io_context& io_;
  ProcessorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  core::Policy policy_;
  http::Client http_;
  StoreWorker* worker_ = nullptr;
  std::map<std::uint64_t, std::unique_ptr<Active>> active_;  // ordered: begin() is the oldest
  // Requests waiting for a place (24 bytes each), and those being read back for one.
  struct Parked {
    std::uint64_t id;
    std::shared_ptr<const core::Policy> policy;
  };
  std::deque<Parked> parked_;
  std::map<std::uint64_t, std::shared_ptr<const core::Policy>> loading_;
  std::shared_ptr<const core::Policy> current_policy_;
  bool caught_up_once_ = false;
  std::uint64_t history_end_ = 0;  // the log's end when this run first caught up
  std::set<std::uint64_t> dirty_;  // touched since the last decisions
  ProcessorStats stats_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point unreachable_reported_at_{};
  std::uint64_t unreachable_since_report_ = 0;
};

}  // namespace

Result<void> run_processor(const StoreOpener& open_store, const ProcessorOptions& options,
                           const store::StopSignal& stop, std::shared_ptr<spdlog::logger> log,
                           const std::function<void(const ProcessorStats&)>& on_stats,
                           std::chrono::milliseconds stats_interval) {
  auto opened = open_store();
  if (!opened) return fail(std::move(opened).error());
  std::unique_ptr<store::EventStore> store = std::move(*opened);

  const std::string owner = lease_owner_id();
  if (auto acquired = acquire_or_wait(*store, options.lease_name, owner, options.lease_ttl,
                                      options.standby, stop, *log);
      !acquired) {
    return acquired;
  }
  if (stop.stop_requested()) {
    (void)store->release_lease(options.lease_name, owner);
    return {};
  }

  Checkpoint checkpoint;
  if (options.start_after) {
    checkpoint.after = *options.start_after;
  } else {
    auto saved = store->load_checkpoint("processor");
    if (!saved) return fail(std::move(saved).error());
    if (*saved) {
      auto decoded = decode_checkpoint(**saved);
      if (!decoded) return fail(std::move(decoded).error());
      checkpoint = *decoded;
    }
  }
  log->info("processor {} resumes after event {}; calling {}", owner,
            events::to_int(checkpoint.after), http::to_string(options.api));

  asio::io_context io;
  Processor processor(io, options, log, checkpoint.policy);
  std::optional<Error> fatal;
  auto worker = std::make_unique<StoreWorker>(
      std::move(store), checkpoint.after,
      StoreWorkerOptions{
          .lease_name = options.lease_name, .lease_owner = owner, .lease_ttl = options.lease_ttl},
      StoreWorkerCallbacks{
          .on_events =
              [&](std::vector<Envelope> batch, bool caught_up) {
                asio::post(io, [&processor, batch = std::move(batch), caught_up] {
                  processor.on_events(batch, caught_up);
                });
              },
          .on_loaded =
              [&](std::vector<EventId> asked, std::vector<Envelope> loaded) {
                asio::post(io, [&processor, asked = std::move(asked), loaded = std::move(loaded)] {
                  processor.on_loaded(asked, loaded);
                });
              },
          .on_fatal =
              [&](const Error& error) {
                asio::post(io, [&, error] {
                  fatal = error;
                  processor.shutdown();
                  io.stop();
                });
              },
          .on_warning = [&](const std::string& line) { log->warn("{}", line); },
      });
  processor.attach(worker.get());

  // Stop: raised from a signal handler; watched on the loop through its descriptor.
  asio::posix::stream_descriptor stop_watch(io, ::dup(stop.fd()));
  stop_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                        [&](const boost::system::error_code&) {
                          log->info("stopping");
                          processor.shutdown();
                          io.stop();
                        });
  asio::steady_timer stats_timer(io);
  std::function<void()> report_stats = [&] {
    stats_timer.expires_after(stats_interval);
    stats_timer.async_wait([&](const boost::system::error_code& error) {
      if (error) return;
      if (on_stats) on_stats(processor.stats());
      report_stats();
    });
  };
  report_stats();

  io.run();
  worker->stop();
  worker->join();
  if (fatal) return fail(*fatal);
  return {};
}

}  // namespace api_broker::broker
