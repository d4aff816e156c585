#pragma once
// What the processor is told to do (its options) and what it reports (its counters): plain
// values shared by the decision loop (ProcessorCore), its runtime (run_processor) and the
// command line, without the runtime's Asio and spdlog.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/broker/destination.hpp"
#include "api_broker/core/target_limits.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/http/client_options.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {

// A stop signal lets the calls in flight answer for this long by default (--drain-timeout),
// and at most for drain_timeout_max.
inline constexpr std::chrono::milliseconds drain_timeout_default{30'000};
inline constexpr std::chrono::milliseconds drain_timeout_max{3'600'000};

struct ProcessorOptions {
  http::Url api;         // POST <api>/api for a plain request
  http::TlsOptions tls;  // trust and client certificate for https
  // Prefixes of the URLs a request's `url` may name (besides <api>); targets are allowed.
  std::vector<UrlPrefix> allowed{};
  // The Content-Type of a body whose request names none.
  std::string content_type_default = "application/octet-stream";
  std::optional<events::EventId> start_after;  // overrides the stored checkpoint
  // Bytes of the JSON form of the body stored per api-response / failure; 1 to
  // limits::response_bytes_stored_max (run_processor refuses others).
  std::size_t response_bytes_stored_max = limits::response_bytes_stored_default;
  std::chrono::milliseconds lease_ttl{3000};  // a dead processor's lease expires after this
  std::string lease_name = "processor";
  bool standby = true;  // wait for the lease instead of exiting
  // On a stop signal: how long the calls in flight get to answer (and their outcomes to be
  // recorded) before the processor stops; 0 = stop at once. A second signal stops at once.
  std::chrono::milliseconds drain_timeout{drain_timeout_default};
  // Requests in flight at most; newer ones wait, parked (an id and a policy each).
  std::size_t requests_in_flight_max = limits::requests_in_flight_max;
  core::TargetLimits default_target{};  // of requests that name no target (POST <api>/api)
};

// Counters since start, for logs, the demo and benchmarks.
struct ProcessorStats {
  std::uint64_t requests_seen = 0;
  std::uint64_t attempts_started = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t active = 0;              // in flight
  std::uint64_t parked = 0;              // waiting for a place
  std::uint64_t waiting_for_target = 0;  // due attempts waiting for a call slot, token or probe
  events::EventId position{};            // the newest event of the log read (the metrics' lag)
};

}  // namespace api_broker::broker
