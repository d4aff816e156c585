#pragma once
// A PostgreSQL cluster of a test's own (scripts/pg.sh in a directory of its choosing), so that
// stopping and starting its server does not disturb the other tests. Installs nothing.

#include <string>
#include <vector>

namespace api_broker::testing {

class PrivateCluster {
 public:
  // Creates and starts the cluster in `dir` (which must not exist yet). When the server runs
  // as another user (as root, `postgres`), the parent of `dir` must let that user through.
  // On failure url() is empty and error() says why.
  explicit PrivateCluster(const std::string& dir);
  // Stops the server and removes `dir`.
  ~PrivateCluster();
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;

  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }
  // Stops the server and keeps the cluster: "fast" stops it as an orderly restart does,
  // "immediate" as a crash does (the next start replays the WAL).
  bool pause(const std::string& mode = "fast");
  // Starts a paused server again on the same port.
  bool resume();

 private:
  std::vector<std::string> env_;
  std::string url_;
  std::string error_;
};

}  // namespace api_broker::testing
