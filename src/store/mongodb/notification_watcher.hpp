#pragma once
// Wakes the followers of a MongoDB store without polling the events: every append that
// commits inserts {last: <its last id>} into the capped collection `notifications`, and this
// watcher tails that collection with a tailable awaitData cursor on a thread and a
// connection of its own. A follower then waits with poll() on the watcher's eventfd and its
// stop signal together, so a stop (or the processor's wake-up) is seen at once even while
// the cursor waits on the server.
//
// The cursor starts at the oldest notification still in the collection, so nothing
// inserted after the watcher started is missed. When it dies (the collection was dropped,
// the cursor fell behind the capped collection's oldest document: CappedPositionLost, the
// connection broke), the watcher opens a new one, after a backoff for connection errors,
// and reports the newest notification it then reads: a spurious wake-up at worst.

#include <mongoc/mongoc.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "api_broker/stop_signal.hpp"
#include "mongo_support.hpp"

namespace api_broker::store::mongo {

// Creates the capped collection `notifications` unless it exists, and seeds it: an empty
// capped collection cannot be tailed (the cursor dies at once). The seed, `last: 0`, wakes
// nobody. Run when the store creates its schema and when a cursor finds the collection
// empty or gone; seeds are harmless duplicates.
Result<void> prepare_notifications(mongoc_database_t* database, std::string_view target);

class NotificationWatcher {
 public:
  // Starts the thread; `uri` is copied. REQUIRES: ensure_driver() was called.
  NotificationWatcher(const mongoc_uri_t* uri, std::string database, std::string target);
  // Stops the thread; takes up to one await period (await_ms) while a getMore is waiting.
  ~NotificationWatcher();
  NotificationWatcher(const NotificationWatcher&) = delete;
  NotificationWatcher& operator=(const NotificationWatcher&) = delete;

  // Readable after a notification newer than any before arrived; drain() re-arms it.
  [[nodiscard]] int fd() const noexcept { return event_fd_; }
  void drain() noexcept;
  // The largest `last` read from a notification so far (0: none yet).
  [[nodiscard]] std::uint64_t newest() const noexcept {
    return newest_.load(std::memory_order_acquire);
  }

  // How long one getMore waits on the server for a new notification.
  static constexpr std::uint32_t await_ms = 200;

 private:
  void run();
  // Tails until the cursor dies or the watcher stops; false when it read nothing (then the
  // next cursor waits for a backoff).
  bool tail(mongoc_database_t* database, mongoc_collection_t* notifications);
  void note(std::int64_t last) noexcept;

  Uri uri_;
  std::string database_;
  std::string target_;
  int event_fd_ = -1;
  std::atomic<std::uint64_t> newest_{0};
  StopSignal stopping_;
  std::thread thread_;
};

}  // namespace api_broker::store::mongo
