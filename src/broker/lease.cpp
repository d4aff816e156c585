#include "lease.hpp"

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/process_owner.hpp"

namespace api_broker::broker {

std::string lease_owner_id() { return store::process_owner_id(); }

Result<HeldLease> acquire_or_wait(store::EventStore& store, const std::string& name,
                                  const std::string& owner, std::chrono::milliseconds ttl,
                                  bool standby, const StopSignal& stop, spdlog::logger& log) {
  bool said = false;
  while (!stop.stop_requested()) {
    const auto asked_at = std::chrono::steady_clock::now();
    auto holder = store.acquire_lease(name, owner, ttl);
    if (!holder) {
      if (!standby) return fail(std::move(holder).error());
      log.warn("cannot take the '{}' lease, retrying: {}", name, holder.error().message);
      stop.wait_for(std::chrono::milliseconds(1000));
      continue;
    }
    if (holder->owner == owner) {
      if (said) log.info("took over the '{}' lease (epoch {})", name, holder->epoch);
      return HeldLease{holder->epoch, asked_at};
    }
    if (store::process_owner_is_gone(holder->owner)) {
      log.info("the '{}' lease holder {} has exited; taking over", name, holder->owner);
      (void)store.release_lease(name, holder->owner);
      continue;
    }
    if (!standby) {
      return fail(Errc::unavailable,
                  fmt::format("another processor ({}) holds the '{}' lease until {}; not starting",
                              holder->owner, name, events::format_time(holder->expires)));
    }
    if (!said) {
      log.info("standby: another processor ({}) holds the '{}' lease; waiting to take over",
               holder->owner, name);
      said = true;
    }
    stop.wait_for(std::max(ttl / 3, std::chrono::milliseconds(100)));
  }
  return fail(Errc::cancelled, "stopped while waiting for the lease");
}

}  // namespace api_broker::broker
