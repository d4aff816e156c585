#include "api_broker/store/process_owner.hpp"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>

#include "api_broker/events/uuid.hpp"

namespace api_broker::store {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  return buffer;
}

}  // namespace

std::string process_owner_id() {
  const auto random = events::random_uuid();
  return fmt::format("{}:{}:{}", host_name(), getpid(), events::to_string(random).substr(0, 8));
}

bool process_owner_is_gone(std::string_view owner) {
  const std::string host = host_name();
  if (!owner.starts_with(host + ":")) return false;
  const std::string_view rest = owner.substr(host.size() + 1);
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (ec != std::errc() || pid <= 0 || end == rest.data() + rest.size() || *end != ':') {
    return false;
  }
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace api_broker::store
