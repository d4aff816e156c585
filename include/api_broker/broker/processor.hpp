#pragma once
// The processor: follows the log, feeds the request state machine, and performs what it
// decides — appends api-request, calls the API once that is committed, appends the answer,
// failure or timeout, and finally the terminal event. One Boost.Asio event loop owns all
// request state; one store worker thread owns the database connection; the HTTP client and
// the timers run on the loop. Memory is bounded by the requests in flight.

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api_broker/events/envelope.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

struct ProcessorOptions {
  http::Url api;                               // POST <api>/api
  std::optional<events::EventId> start_after;  // overrides the stored checkpoint
  // Bytes of the JSON form of the body stored per api-response / failure; 1 to
  // limits::response_bytes_stored_max (run_processor refuses others).
  std::size_t response_bytes_stored_max = limits::response_bytes_stored_default;
  std::chrono::milliseconds lease_ttl{3000};  // a dead processor's lease expires after this
  std::string lease_name = "processor";
  bool standby = true;  // wait for the lease instead of exiting
  // Requests in flight at most; newer ones wait, parked (an id and a policy each).
  std::size_t requests_in_flight_max = limits::requests_in_flight_max;
};

// Counters since start, for logs, the demo and benchmarks.
struct ProcessorStats {
  std::uint64_t requests_seen = 0;
  std::uint64_t attempts_started = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t active = 0;  // in flight
  std::uint64_t parked = 0;  // waiting for a place
};

using StoreOpener = std::function<Result<std::unique_ptr<store::EventStore>>()>;

// Runs the processor until `stop` is raised (returns success) or it cannot go on (returns
// the error: the lease was lost, the store could not be opened). `on_stats`, when set, is
// called on the loop about every `stats_interval` with the counters.
Result<void> run_processor(const StoreOpener& open_store, const ProcessorOptions& options,
                           const StopSignal& stop, std::shared_ptr<spdlog::logger> log,
                           const std::function<void(const ProcessorStats&)>& on_stats = {},
                           std::chrono::milliseconds stats_interval = std::chrono::seconds(10));

}  // namespace api_broker::broker
