#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/service/service.hpp"

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "api_broker/stop_signal.hpp"
#include "api_broker/thread_name.hpp"
#include "api_broker/view/live_view.hpp"
#include "auth.hpp"
#include "commit_timing.hpp"
#include "dashboard_routes.hpp"
#include "error.hpp"
#include "event_stream.hpp"
#include "listen_address.hpp"
#include "metrics.hpp"
#include "router.hpp"
#include "server.hpp"
#include "server_tls.hpp"
#include "submit_routes.hpp"
#include "submitter.hpp"
#include "view_routes.hpp"
#include "waiters.hpp"

namespace api_broker::service {

using Clock = std::chrono::steady_clock;

namespace {

// Appends the tokens of the file at `path` ("" = none) to `tokens`.
Result<void> add_token_file(const std::string& path, std::vector<std::string>& tokens) {
  if (path.empty()) return {};
  std::ifstream file(path, std::ios::binary);
  if (!file) return fail(Errc::invalid_input, fmt::format("cannot read token file '{}'", path));
  std::string text;
  char buffer[4096];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (text.size() > token_file_bytes_max) {
      return fail(Errc::invalid_input, fmt::format("token file '{}' is larger than {} bytes", path,
                                                   token_file_bytes_max));
    }
  }
  auto read = read_tokens(text, path);
  if (!read) return fail(std::move(read).error());
  tokens.insert(tokens.end(), read->begin(), read->end());
  return {};
}

}  // namespace

class Service::Impl {
 public:
  Impl(const ServiceOptions& options, broker::StoreOpener open_store)
      : options_(options), open_store_(std::move(open_store)) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { stop(); }

  Result<void> start() {
    std::vector<std::string> full = options_.tokens;
    std::vector<std::string> read_only = options_.read_tokens;
    if (auto added = add_token_file(options_.token_file, full); !added) return added;
    if (auto added = add_token_file(options_.read_token_file, read_only); !added) return added;
    for (const auto& token : full) {
      if (auto valid = check_token(token); !valid) return valid;
    }
    for (const auto& token : read_only) {
      if (auto valid = check_token(token); !valid) return valid;
    }
    tokens_ = Tokens(full, read_only);
    auto endpoint = ::api_broker::http::detail::parse_address(options_.listen);
    if (!endpoint) return fail(std::move(endpoint).error());
    if (!endpoint->address().is_loopback() && tokens_.empty()) {
      return fail(Errc::invalid_input,
                  fmt::format("refusing to listen on {} without an API token: give --api-token "
                              "(or API_BROKER_API_TOKENS, --api-token-file), or listen on a "
                              "loopback address (127.0.0.1)",
                              options_.listen));
    }
    ServerOptions server_options{.endpoint = *endpoint};
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      auto tls = ::api_broker::http::detail::make_server_tls(
          {.cert = options_.tls_cert_file, .key = options_.tls_key_file});
      if (!tls) return fail(std::move(tls).error());
      server_options.tls = std::shared_ptr<boost::asio::ssl::context>(std::move(*tls));
    }
    // The store must answer before anything is promised.
    auto probe = open_store_();
    if (!probe) return fail(std::move(probe).error());
    if (auto last = (*probe)->last_id(); !last) return fail(std::move(last).error());
    (void)(*probe)->close();

    auto submitter =
        Submitter::start(measure_commits(open_store_, metrics_, Writer::submissions), nullptr);
    if (!submitter) return fail(std::move(submitter).error());
    submitter_ = std::move(*submitter);
    // The metrics fold the log from its start as the read model does, on its one read of it,
    // so that they are right after a restart.
    view_ = std::make_unique<view::LiveView>(
        open_store_,
        view::LiveViewOptions{
            .on_error = [log = options_.log](
                            const Error& error) { log->warn("read model: {}", error.message); },
            .on_applied =
                [this](std::span<const events::Envelope> batch) { metrics_.observe(batch); }});
    waiters_ = std::make_unique<Waiters>(*view_);
    streams_ = std::make_unique<EventStreams>(open_store_);
    add_routes();
    if (options_.process) start_processor();
    auto server = Server::start(server_options, [this](Request& request, const Respond& respond) {
      handle(request, respond);
    });
    if (!server) return fail(std::move(server).error());
    server_ = std::move(*server);
    return {};
  }

  [[nodiscard]] std::string address() const { return server_->address(); }
  [[nodiscard]] std::string url() const { return server_->url(); }

  Result<void> run_until(const StopSignal& stop) {
    while (!stop.stop_requested() && !processor_done_.load()) {
      (void)stop.wait_for(std::chrono::milliseconds(200));
    }
    stop_all(&stop);
    if (processor_error_) return fail(*processor_error_);
    return {};
  }

  void stop() { stop_all(); }

 private:
  // `signals`: the stop the service ran until; a second stop there stops a draining processor
  // at once.
  void stop_all(const StopSignal* signals = nullptr) {
    if (stopped_.exchange(true)) return;
    if (server_) server_->stop();
    if (streams_) streams_->stop();
    if (waiters_) waiters_->stop();
    if (submitter_) submitter_->stop();
    if (view_) view_->stop();
    processor_stop_.request_stop();
    // The processor drains (ProcessorOptions::drain_timeout); a second signal cuts it short.
    // `signals` is an eventfd counting the stops: the count so far is read off, so that it
    // turns readable again at the next one.
    if (signals != nullptr && processor_thread_.joinable()) {
      std::uint64_t stops = 0;
      [[maybe_unused]] const ssize_t got = ::read(signals->fd(), &stops, sizeof stops);
      bool forwarded = false;
      while (!forwarded && !processor_done_.load()) {
        pollfd entry{signals->fd(), POLLIN, 0};
        if (stops >= 2 || ::poll(&entry, 1, 20) > 0) {
          processor_stop_.request_stop();
          forwarded = true;
        }
      }
    }
    if (processor_thread_.joinable()) processor_thread_.join();
  }

  void handle(Request& request, const Respond& respond) {
    request.access =
        tokens_.empty() ? Access::full : tokens_.access_of(request.header("authorization"));
    // Without tokens (loopback only), a web page in the user's browser must not write here.
    if (tokens_.empty()) {
      if (const std::string refused = refuse_cross_site_write(request); !refused.empty()) {
        respond(error_response(403, code::forbidden, refused));
        return;
      }
    }
    router_.dispatch(request, respond);
  }

  void add_routes() {
    router_.add("GET", "/healthz", Needs::nothing, [](Request&, const Respond& respond) {
      respond(json_response(200, R"({"status":"ok"})"));
    });
    router_.add("GET", "/readyz", Needs::nothing, [this](Request&, const Respond& respond) {
      std::string why = not_ready();
      if (why.empty()) {
        respond(json_response(200, R"({"status":"ready"})"));
      } else {
        respond(error_response(503, code::unavailable, why));
      }
    });
    add_dashboard_routes(router_, DashboardSources{.metrics = metrics_, .counts = [this] {
                                                     view::Counts counts;
                                                     view_->read([&](const view::RequestView& v) {
                                                       counts = v.counts();
                                                     });
                                                     return counts;
                                                   }});
    add_submit_routes(router_,
                      SubmitContext{.submitter = submitter_.get(), .allowed = options_.allowed});
    add_view_routes(
        router_,
        ViewContext{.view = view_.get(), .waiters = waiters_.get(), .submitter = submitter_.get()});
    streams_->add_routes(router_);
  }

  // "" when ready, else why not.
  std::string not_ready() {
    if (!view_->caught_up()) return "the read model has not caught up with the log (yet)";
    if (options_.process) {
      const auto seen = processor_seen_.load();
      const auto now = Clock::now().time_since_epoch().count();
      // It reports every processor_stats_interval while it holds the lease; a report older
      // than the lease's time to live plus two intervals means it lost it (or is stuck).
      const auto window = std::chrono::duration_cast<Clock::duration>(options_.process->lease_ttl +
                                                                      processor_stats_interval * 2);
      if (seen == 0 || now - seen > window.count()) {
        return "the processor does not hold its lease (yet)";
      }
    }
    return {};
  }

  void start_processor() {
    processor_thread_ = std::thread([this] {
      name_this_thread("ab-processor");
      auto done = broker::run_processor(
          measure_commits(open_store_, metrics_, Writer::processor), *options_.process,
          processor_stop_, options_.log,
          [this](const broker::ProcessorStats& stats) {
            processor_seen_.store(Clock::now().time_since_epoch().count());
            metrics_.observe(stats);
          },
          processor_stats_interval);
      if (!done) {
        options_.log->error("processor: {}", done.error().message);
        processor_error_ = done.error();
      }
      processor_done_.store(true);
    });
  }

  static constexpr std::chrono::milliseconds processor_stats_interval{500};

  const ServiceOptions options_;
  const broker::StoreOpener open_store_;
  Tokens tokens_;    // set by start()
  Metrics metrics_;  // before everything that feeds it or serves it
  Router router_;
  std::unique_ptr<Submitter> submitter_;
  std::unique_ptr<view::LiveView> view_;
  std::unique_ptr<Waiters> waiters_;
  std::unique_ptr<EventStreams> streams_;
  std::unique_ptr<Server> server_;

  StopSignal processor_stop_;
  std::thread processor_thread_;
  std::atomic<Clock::rep> processor_seen_{0};  // when the processor last reported, 0: never
  std::atomic<bool> processor_done_{false};
  std::optional<Error> processor_error_;  // written before processor_done_
  std::atomic<bool> stopped_{false};
};

Result<std::unique_ptr<Service>> Service::start(const ServiceOptions& options,
                                                broker::StoreOpener open_store) {
  auto impl = std::make_unique<Impl>(options, std::move(open_store));
  if (auto started = impl->start(); !started) return fail(std::move(started).error());
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() = default;
std::string Service::address() const { return impl_->address(); }
std::string Service::url() const { return impl_->url(); }
Result<void> Service::run_until(const StopSignal& stop) { return impl_->run_until(stop); }
void Service::stop() { impl_->stop(); }

}  // namespace api_broker::service
