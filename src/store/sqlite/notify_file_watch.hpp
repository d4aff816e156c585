#pragma once
// Wakes followers when any process commits to the database. SQLite has no notification of
// its own, and a change to the -wal file is seen before the commit is visible (the writer
// still has to fsync and publish it), so every api-broker writer touches "<file>-notify"
// after each commit, and followers watch that file with inotify. Writers that are not
// api-broker (the sqlite3 shell) are picked up by the followers' periodic re-read. Without
// inotify it falls back to waking every 50 ms.

#include <chrono>
#include <string>

#include "api_broker/stop_signal.hpp"

namespace api_broker::store {

class NotifyFileWatch {
 public:
  explicit NotifyFileWatch(const std::string& database_path);
  ~NotifyFileWatch();
  NotifyFileWatch(const NotifyFileWatch&) = delete;
  NotifyFileWatch& operator=(const NotifyFileWatch&) = delete;

  // Forgets changes seen so far; call before checking the log, then wait().
  void drain();
  // Returns when a commit is announced, `timeout` passes or `stop` is raised.
  void wait(std::chrono::milliseconds timeout, const StopSignal& stop);
  // Announces a commit to the followers of every process (call after COMMIT).
  void announce();

 private:
  int fd_ = -1;         // inotify
  int notify_fd_ = -1;  // the -notify file, written by announce()
  std::string notify_name_;
};

}  // namespace api_broker::store
