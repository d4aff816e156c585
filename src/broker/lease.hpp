#pragma once
// One processor acts on a log at a time: it holds a lease in the store. A second processor
// waits as standby and takes over when the first stops renewing it (it died, or was stopped),
// at once when the holder is a process of this machine that no longer exists.

#include <spdlog/logger.h>

#include <string>

#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

// "host:pid:random", unique per process start.
std::string lease_owner_id();

// Takes the lease, or waits for it (standby) until it is free or `stop` is raised. Without
// standby, a lease held by another live processor is an Errc::unavailable error.
Result<void> acquire_or_wait(store::EventStore& store, const std::string& name,
                             const std::string& owner, std::chrono::milliseconds ttl, bool standby,
                             const store::StopSignal& stop, spdlog::logger& log);

}  // namespace api_broker::broker
