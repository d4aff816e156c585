#include "api_broker/broker/processor.hpp"

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>

#include "api_broker/assert.hpp"
#include "api_broker/broker/processor_core.hpp"
#include "api_broker/broker/resume_point.hpp"
#include "api_broker/http/http_client.hpp"
#include "api_broker/store/store_wait.hpp"
#include "lease.hpp"
#include "secrets.hpp"
#include "store_worker.hpp"

namespace api_broker::broker {
namespace {

namespace asio = boost::asio;
using events::Envelope;
using events::EventId;

// Sends `plan` through the client. A redirect hop is followed only to where the request could
// have been sent itself: under the plan's own base URL or an --allow-url prefix.
http::CallId send_call(http::Client& client, const CallPlan& plan,
                       const std::vector<UrlPrefix>& allowed, std::string body,
                       std::vector<http::Header> headers, std::chrono::milliseconds limit,
                       http::ResponseHandler done) {
  http::Call call{.method = plan.method,
                  .url = plan.endpoint.url,
                  .target = plan.path,
                  .body = std::move(body),
                  .headers = std::move(headers),
                  .limit = limit,
                  .redirects_max = plan.redirects_max};
  if (plan.redirects_max > 0) {
    std::vector<UrlPrefix> destinations = allowed;
    destinations.push_back(plan.endpoint);
    call.may_follow = [destinations = std::move(destinations)](const http::Url& url,
                                                               const std::string& target) {
      return allows(destinations, Location{.endpoint = {.url = url}, .target = target});
    };
  }
  return client.send(std::move(call), std::move(done));
}

// The real world of a ProcessorCore: Asio timers and the Beast HTTP client on one loop, and a
// StoreWorker thread whose callbacks are posted onto that loop.
class AsioPorts final : public ProcessorPorts {
 public:
  AsioPorts(asio::io_context& io, const ProcessorOptions& options, std::size_t connections_max)
      : io_(io),
        allowed_(options.allowed),
        http_(io.get_executor(),
              http::ClientOptions{.response_bytes_stored_max = options.response_bytes_stored_max,
                                  .connections_max = connections_max,
                                  .may_send = [this] { return lease_held(); },
                                  .tls = options.tls}) {}

  void attach(ProcessorCore* core, StoreWorker* worker, std::uint64_t lease_epoch) {
    API_BROKER_ASSERT(core != nullptr && worker != nullptr);
    API_BROKER_ASSERT(core_ == nullptr);  // one term, one core
    core_ = core;
    worker_ = worker;
    lease_epoch_ = lease_epoch;
  }

  TimePoint now() override { return utc_now(); }

  void set_timer(EventId request, TimePoint at) override {
    auto [it, added] = timers_.try_emplace(request, io_);
    asio::steady_timer& timer = it->second;
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::max(at - utc_now(), Duration::zero())));
    timer.async_wait([this, request](const boost::system::error_code& error) {
      if (error) return;  // cancelled or replaced
      timers_.erase(request);
      core_->on_timer(request);
    });
  }

  void cancel_timer(EventId request) override {
    const auto it = timers_.find(request);
    if (it == timers_.end()) return;
    it->second.cancel();
    timers_.erase(it);
  }

  void set_target_timer(std::string_view target, TimePoint at) override {
    auto it = target_timers_.find(target);
    if (it == target_timers_.end()) it = target_timers_.emplace(std::string(target), io_).first;
    asio::steady_timer& timer = it->second;
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::max(at - utc_now(), Duration::zero())));
    // The timer stays in the map (one per target): firing does not erase it.
    timer.async_wait([this, name = it->first](const boost::system::error_code& error) {
      if (error) return;  // replaced
      core_->on_target_timer(name);
    });
  }

  std::uint64_t call_api(const ApiCall& call) override {
    API_BROKER_ASSERT(call.plan != nullptr);
    const CallPlan& plan = *call.plan;
    auto done = [this, request = call.request,
                 attempt = call.attempt](Result<http::Response> answer) {
      core_->on_answer(request, attempt, std::move(answer));
    };
    // Secrets are resolved now, into this call only: never stored, never logged.
    auto resolved = resolve_headers(plan.headers);
    if (!resolved) return fail_call(std::move(resolved).error(), std::move(done));
    std::vector<http::Header> headers{{"Idempotency-Key", std::string(call.idempotency_key)},
                                      {"Api-Broker-Attempt", std::to_string(call.attempt)},
                                      {"Api-Broker-Lease-Epoch", std::to_string(lease_epoch_)}};
    const bool has_content_type =
        std::any_of(resolved->begin(), resolved->end(), [](const http::Header& header) {
          return boost::beast::iequals(header.first, "Content-Type");
        });
    if (!plan.content_type.empty() && !has_content_type) {
      headers.emplace_back("Content-Type", plan.content_type);
    }
    std::move(resolved->begin(), resolved->end(), std::back_inserter(headers));
    return static_cast<std::uint64_t>(send_call(http_, plan, allowed_, std::string(call.body),
                                                std::move(headers), call.limit, std::move(done)));
  }

  void cancel_call(std::uint64_t call) override {
    if ((call & unsent_call_bit) != 0) return;  // failed before sending: its answer is posted
    http_.cancel(http::CallId{call});
  }
  bool lease_held() override {
    API_BROKER_ASSERT(worker_ != nullptr);  // attached before the loop runs
    return worker_->lease_held();
  }

  void append(std::vector<events::NewEvent> events) override { worker_->append(std::move(events)); }
  void set_checkpoint(std::string value) override { worker_->set_checkpoint(std::move(value)); }
  void ack() override { worker_->ack(); }
  void load(std::vector<EventId> ids) override { worker_->load(std::move(ids)); }

 private:
  asio::io_context& io_;
  std::vector<UrlPrefix> allowed_;  // where a redirect may lead, besides the plan's own URL
  http::Client http_;
  ProcessorCore* core_ = nullptr;
  StoreWorker* worker_ = nullptr;
  std::uint64_t lease_epoch_ = 0;  // sent with every call: a fencing token the API may check
  std::map<EventId, asio::steady_timer> timers_;
  std::map<std::string, asio::steady_timer, std::less<>> target_timers_;
  std::uint64_t unsent_calls_ = 0;

  // Ids of calls that failed before sending; the client's ids never have this bit.
  static constexpr std::uint64_t unsent_call_bit = std::uint64_t{1} << 63;

  // A call that could not be sent: its failure reaches the core later, as an answer does.
  std::uint64_t fail_call(Error error, http::ResponseHandler done) {
    asio::post(io_, [done = std::move(done), error = std::move(error)] { done(fail(error)); });
    return unsent_call_bit | ++unsent_calls_;
  }
};

// The descriptors this process may open: its soft RLIMIT_NOFILE (main() raised it to the hard
// limit at start).
std::uint64_t open_files_max() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return limit.rlim_cur;
}

}  // namespace

namespace {

// A connection per request in flight, as far as descriptors allow: beyond, calls wait in the
// HTTP client's queue instead of failing for want of a descriptor.
std::size_t connections_for(const ProcessorOptions& options, spdlog::logger& log) {
  const std::uint64_t open_files = open_files_max();
  const std::size_t connections_max = limits::http_connections_for(open_files);
  if (connections_max < std::min(limits::http_connections_max, options.requests_in_flight_max)) {
    log.info("open-files limit {}: at most {} connections to the API, further calls wait",
             open_files, connections_max);
  }
  return connections_max;
}

// The store worker's callbacks, which run on its thread: each posts onto the loop, which owns
// `processor` and `fatal`. All three outlive the worker.
StoreWorkerCallbacks posting_callbacks(asio::io_context& io, ProcessorCore& processor,
                                       std::optional<Error>& fatal,
                                       std::shared_ptr<spdlog::logger> log) {
  asio::io_context* loop = &io;
  ProcessorCore* core = &processor;
  std::optional<Error>* failed = &fatal;
  return StoreWorkerCallbacks{
      .on_events =
          [loop, core](std::vector<Envelope> batch, bool caught_up) {
            asio::post(*loop, [core, batch = std::move(batch), caught_up] {
              core->on_events(batch, caught_up);
            });
          },
      .on_loaded =
          [loop, core](std::vector<EventId> asked, std::vector<Envelope> loaded) {
            asio::post(*loop, [core, asked = std::move(asked), loaded = std::move(loaded)] {
              core->on_loaded(asked, loaded);
            });
          },
      .on_fatal =
          [loop, core, failed](const Error& error) {
            asio::post(*loop, [loop, core, failed, error] {
              *failed = error;
              if (error.code == Errc::fenced) {
                core->on_lease_lost();
              } else {
                core->shutdown();
              }
              loop->stop();
            });
          },
      .on_lease_renewed = [loop, core] { asio::post(*loop, [core] { core->on_lease_renewed(); }); },
      .on_warning = [log = std::move(log)](const std::string& line) { log->warn("{}", line); },
  };
}

// Runs the loop until `stop` is raised (and the drain is over) or the worker gives up; reports
// the counters meanwhile. A stop drains: no attempt starts, the calls in flight get up to
// `drain_timeout` to answer and be recorded; a second stop (or a timeout of 0) stops at once.
void run_loop(asio::io_context& io, ProcessorCore& processor, const StopSignal& stop,
              std::chrono::milliseconds drain_timeout, spdlog::logger& log,
              const std::function<void(const ProcessorStats&)>& on_stats,
              std::chrono::milliseconds stats_interval) {
  // Stop: raised from a signal handler; watched on the loop through its descriptor (an
  // eventfd counting the requests). Once a drain starts, the count so far is read off (only
  // this loop watches the descriptor meanwhile: stop_requested() stays true), so that the
  // descriptor turns readable again at a second stop.
  asio::posix::stream_descriptor stop_watch(io, ::dup(stop.fd()));
  asio::steady_timer drain_timer(io);
  auto stop_now = [&](const char* why) {
    log.info("{}", why);
    processor.shutdown();
    io.stop();
  };
  std::function<void()> watch_drain = [&] {
    if (processor.drain_over()) {
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](const boost::system::error_code& error) {
      if (!error) watch_drain();
    });
  };
  stop_watch.async_wait(
      asio::posix::stream_descriptor::wait_read, [&](const boost::system::error_code&) {
        if (drain_timeout <= std::chrono::milliseconds::zero()) return stop_now("stopping");
        std::uint64_t stops = 0;
        [[maybe_unused]] const ssize_t got =
            ::read(stop_watch.native_handle(), &stops, sizeof stops);
        if (stops >= 2) {
          return stop_now(
              "second stop signal: stopping at once, calls in flight are left to the "
              "next processor");
        }
        processor.drain(drain_timeout);
        stop_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                              [&](const boost::system::error_code& error) {
                                if (error) return;
                                stop_now(
                                    "second stop signal: stopping at once, calls in flight are "
                                    "left to the next processor");
                              });
        watch_drain();
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
}

// One term of office: takes the lease (or waits for it), then processes until stopped or
// until the lease is lost (Errc::fenced).
Result<void> run_term(const StoreOpener& open_store, const ProcessorOptions& options,
                      const StopSignal& stop, const std::shared_ptr<spdlog::logger>& log,
                      const std::function<void(const ProcessorStats&)>& on_stats,
                      std::chrono::milliseconds stats_interval) {
  auto opened = open_store();
  if (!opened) return fail(std::move(opened).error());
  std::unique_ptr<store::EventStore> store = std::move(*opened);

  const std::string owner = lease_owner_id();
  auto lease = acquire_or_wait(*store, options.lease_name, owner, options.lease_ttl,
                               options.standby, stop, *log);
  if (!lease) {
    if (lease.error().code == Errc::cancelled) return {};
    return fail(std::move(lease).error());
  }
  if (stop.stop_requested()) {
    (void)store->release_lease(options.lease_name, owner);
    return {};
  }

  auto resumed = load_resume_point(*store, "processor", options.start_after);
  if (!resumed) return fail(std::move(resumed).error());
  const Checkpoint checkpoint = *resumed;
  log->info("processor {} resumes after event {}; calling {}", owner,
            events::to_int(checkpoint.after), http::to_string(options.api));

  asio::io_context io;
  AsioPorts ports(io, options, connections_for(options, *log));
  ProcessorCore processor(ports, options, checkpoint.policy, log, checkpoint.targets);
  std::optional<Error> fatal;
  auto worker = std::make_unique<StoreWorker>(std::move(store), checkpoint.after,
                                              StoreWorkerOptions{.lease_name = options.lease_name,
                                                                 .lease_owner = owner,
                                                                 .lease_epoch = lease->epoch,
                                                                 .lease_taken_at = lease->taken_at,
                                                                 .lease_ttl = options.lease_ttl},
                                              posting_callbacks(io, processor, fatal, log));
  ports.attach(&processor, worker.get(), lease->epoch);
  run_loop(io, processor, stop, options.drain_timeout, *log, on_stats, stats_interval);
  worker->stop();
  worker->join();
  if (fatal) return fail(*fatal);
  return {};
}

}  // namespace

Result<void> run_processor(const StoreOpener& open_store, const ProcessorOptions& options,
                           const StopSignal& stop, const std::shared_ptr<spdlog::logger>& log,
                           const std::function<void(const ProcessorStats&)>& on_stats,
                           std::chrono::milliseconds stats_interval) {
  // Every stored answer must fit the store's bound on one event, whatever the API sends.
  if (options.response_bytes_stored_max == 0 ||
      options.response_bytes_stored_max > limits::response_bytes_stored_max) {
    return fail(Errc::invalid_input,
                fmt::format("response bytes max must be between 1 and {}, not {}",
                            limits::response_bytes_stored_max, options.response_bytes_stored_max));
  }
  // A store that cannot be reached at the start (the worker rides out outages mid-run): wait
  // for it, saying so now and then; a stop meanwhile ends the processor as a success. Without
  // standby it never waits.
  store::StoreWait store_wait(stop, [&log](const std::string& line) { log->warn("{}", line); });
  for (;;) {
    auto term = run_term(open_store, options, stop, log, on_stats, stats_interval);
    if (!term && options.standby && store::StoreWait::waitable(term.error())) {
      if (!store_wait.wait(term.error())) return {};
      continue;
    }
    // A processor whose lease was taken over has stopped acting; as a standby it waits to
    // take the lease again, with its state read afresh from the store.
    if (term || term.error().code != Errc::fenced || !options.standby || stop.stop_requested()) {
      return term;
    }
    log->error("{}", term.error().message);
    log->info("standby: waiting to take the '{}' lease again", options.lease_name);
  }
}

}  // namespace api_broker::broker
