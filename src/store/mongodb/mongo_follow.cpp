// The MongoDB store's followers: waiting for an append, woken by the notifications collection.
#include "mongo_store_impl.hpp"

#include <poll.h>

#include <cerrno>

#include <fmt/format.h>

#include <algorithm>

namespace api_broker::store::mongo {

Result<void> MongoStore::wait_for_append(EventId after, std::chrono::milliseconds timeout,
                                         const StopSignal& stop) {
  if (auto usable = ready(); !usable) return usable;
  if (stop.stop_requested()) return {};
  // Started before the check below, so that a commit after the check is never missed:
  // the watcher's cursor reads every notification still in the capped collection.
  if (!watcher_) {
    watcher_ = std::make_unique<mongo::NotificationWatcher>(uri_.get(), database_name_, target_);
  }
  auto last = read_last();
  if (!last) return fail(std::move(last).error());
  const std::uint64_t position = events::to_int(after);
  if (static_cast<std::uint64_t>(*last) > position) return {};
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (watcher_->newest() <= position) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd fds[] = {{watcher_->fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
    const int ready_count =
        ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (ready_count < 0 && errno != EINTR) {
      return fail(Errc::unavailable, "poll failed while waiting for mongodb notifications");
    }
    if (fds[1].revents != 0 || stop.stop_requested()) return {};
    if (fds[0].revents != 0) watcher_->drain();
  }
  return {};
}

}  // namespace api_broker::store::mongo
