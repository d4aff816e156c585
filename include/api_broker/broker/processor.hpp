#pragma once
// The processor: follows the log, feeds the request state machine, and performs what it
// decides — appends api-request, calls the API once that is committed, appends the answer,
// failure or timeout, and finally the terminal event. One Boost.Asio event loop owns all
// request state; one store worker thread owns the database connection; the HTTP client and
// the timers run on the loop. Memory is bounded by the requests in flight.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api_broker/broker/processor_options.hpp"
#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace api_broker::broker {

using StoreOpener = std::function<Result<std::unique_ptr<store::EventStore>>()>;

// Runs the processor until `stop` is raised (returns success) or it cannot go on (returns
// the error: the lease was lost, the store could not be opened). `on_stats`, when set, is
// called on the loop about every `stats_interval` with the counters.
Result<void> run_processor(const StoreOpener& open_store, const ProcessorOptions& options,
                           const StopSignal& stop, const std::shared_ptr<spdlog::logger>& log,
                           const std::function<void(const ProcessorStats&)>& on_stats = {},
                           std::chrono::milliseconds stats_interval = std::chrono::seconds(10));

}  // namespace api_broker::broker
