#pragma once
// One processor acts on a log at a time: it holds a lease in the store. A second processor
// waits as standby and takes over when the first stops renewing it (it died, or was stopped),
// at once when the holder is a process of this machine that no longer exists.

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "api_broker/store/event_store.hpp"

namespace api_broker::broker {

// "host:pid:random", unique per process start.
std::string lease_owner_id();

// A lease taken: its epoch (for fenced appends) and when the call that took it was sent (it
// is held for a TTL from then at least).
struct HeldLease {
  std::uint64_t epoch = 0;
  std::chrono::steady_clock::time_point taken_at{};
};

// Takes the lease, or waits for it (standby) until it is free or `stop` is raised (then the
// result is Errc::cancelled). Without standby, a lease held by another live processor is an
// Errc::unavailable error.
Result<HeldLease> acquire_or_wait(store::EventStore& store, const std::string& name,
                                  const std::string& owner, std::chrono::milliseconds ttl,
                                  bool standby, const StopSignal& stop, spdlog::logger& log);

}  // namespace api_broker::broker
