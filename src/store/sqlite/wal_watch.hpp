#pragma once
// Wakes a follower when any process writes the SQLite write-ahead log: an inotify watch on
// the database's folder for changes to "<file>-wal". Without inotify it falls back to
// waking every 50 ms.

#include <chrono>
#include <string>

#include "api_broker/store/stop_signal.hpp"

namespace api_broker::store {

class WalWatch {
 public:
  explicit WalWatch(const std::string& database_path);
  ~WalWatch();
  WalWatch(const WalWatch&) = delete;
  WalWatch& operator=(const WalWatch&) = delete;

  // Forgets changes seen so far; call before checking the log, then wait().
  void drain();
  // Returns when the WAL changes, `timeout` passes or `stop` is raised.
  void wait(std::chrono::milliseconds timeout, const StopSignal& stop);

 private:
  int fd_ = -1;
  std::string wal_name_;
};

}  // namespace api_broker::store
