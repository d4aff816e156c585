// The options check and the foreground server of the CLI's `brittle-api` command.

#include "api_broker/brittle_api/brittle_api.hpp"

#include <sys/resource.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "log.hpp"

namespace api_broker::brittle_api {
namespace {

Result<void> check_rate(double rate, std::string_view name) {
  if (rate >= 0 && rate <= 1) return {};  // false for NaN too
  return fail(Errc::invalid_input, fmt::format("{} must be between 0 and 1, not {}", name, rate));
}

Result<void> check_latency(double seconds, std::string_view name) {
  if (seconds >= 0 && seconds <= latency_seconds_max) return {};
  return fail(Errc::invalid_input, fmt::format("{} must be between 0 and {} seconds, not {}", name,
                                               latency_seconds_max, seconds));
}

// Every connection takes a file descriptor; the usual soft limit of 1024 is far too low.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    detail::log_line("cannot raise the limit of open files; fewer connections can be served");
  }
}

}  // namespace

Result<void> validate(const Options& options) {
  if (auto checked = check_rate(options.failure_rate, "the failure rate"); !checked) return checked;
  if (auto checked = check_rate(options.silent_failure_rate, "the silent failure rate"); !checked) {
    return checked;
  }
  if (auto checked = check_latency(options.min_latency, "the minimum latency"); !checked) {
    return checked;
  }
  if (auto checked = check_latency(options.max_latency, "the maximum latency"); !checked) {
    return checked;
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return fail(Errc::invalid_input, "--tls-cert and --tls-key go together");
  }
  if (!options.tls_client_ca_file.empty() && options.tls_cert_file.empty()) {
    return fail(Errc::invalid_input, "--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (options.min_latency > options.max_latency) {
    return fail(Errc::invalid_input,
                fmt::format("the minimum latency ({} s) exceeds the maximum latency ({} s)",
                            options.min_latency, options.max_latency));
  }
  return {};
}

Result<void> serve(std::string_view address, const Options& options,
                   const std::function<bool()>& stop_requested) {
  API_BROKER_ASSERT(stop_requested);
  raise_open_files_limit();
  auto started = Server::start(address, options);
  if (!started) return fail(std::move(started).error());
  Server& server = **started;
  detail::log_line(fmt::format(
      "listening on {} ({}); latency {}-{} s, failure rate {}, silent failure rate {}, seed {}",
      server.address(), server.url(), options.min_latency, options.max_latency,
      options.failure_rate, options.silent_failure_rate, server.seed()));
  while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  const Stats stats = server.stats();
  detail::log_line(fmt::format("stopped after {} calls: {} ok, {} failed, {} dropped, {} abandoned",
                               stats.calls, stats.succeeded, stats.failed, stats.dropped,
                               stats.calls - stats.succeeded - stats.failed - stats.dropped));
  return {};
}

}  // namespace api_broker::brittle_api
