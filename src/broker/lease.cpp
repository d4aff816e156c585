#include "lease.hpp"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>

#include "api_broker/events/codec.hpp"

namespace api_broker::broker {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  return buffer;
}

// Whether `owner` names a process of this host that has exited.
bool holder_is_gone(const std::string& owner) {
  const std::string host = host_name();
  if (owner.rfind(host + ":", 0) != 0) return false;
  const std::string_view rest = std::string_view(owner).substr(host.size() + 1);
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (ec != std::errc() || pid <= 0 || end == rest.data() + rest.size() || *end != ':') {
    return false;
  }
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string lease_owner_id() {
  const auto random = events::random_uuid();
  return fmt::format("{}:{}:{}", host_name(), getpid(), events::to_string(random).substr(0, 8));
}

Result<void> acquire_or_wait(store::EventStore& store, const std::string& name,
                             const std::string& owner, std::chrono::milliseconds ttl, bool standby,
                             const store::StopSignal& stop, spdlog::logger& log) {
  bool said = false;
  while (!stop.stop_requested()) {
    auto holder = store.acquire_lease(name, owner, ttl);
    if (!holder) {
      if (!standby) return fail(std::move(holder).error());
      log.warn("cannot take the '{}' lease, retrying: {}", name, holder.error().message);
      stop.wait_for(std::chrono::milliseconds(1000));
      continue;
    }
    if (holder->owner == owner) {
      if (said) log.info("took over the '{}' lease", name);
      return {};
    }
    if (holder_is_gone(holder->owner)) {
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
  return {};
}

}  // namespace api_broker::broker
