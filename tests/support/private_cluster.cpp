#include "support/private_cluster.hpp"

#include <unistd.h>

#include <chrono>
#include <string>

#include "support/process.hpp"

namespace api_broker::testing {
namespace {

std::string script() { return std::string(API_BROKER_SOURCE_DIR) + "/scripts/pg.sh"; }

}  // namespace

// A paused cluster frees its port, which nothing else may take meanwhile: each test process
// looks for a free port in a range of its own, below the ephemeral ports (32768 and up) that
// outgoing connections are given.
PrivateCluster::PrivateCluster(const std::string& dir)
    : env_{"API_BROKER_PG_DIR=" + dir,
           "API_BROKER_PG_PORT=" + std::to_string(20000 + (::getpid() % 500) * 20)} {
  auto started = run({script(), "start"}, env_, std::chrono::seconds(120));
  if (started.exit_code == 0) url_ = started.out.substr(0, started.out.find('\n'));
  error_ = started.err;
}

PrivateCluster::~PrivateCluster() { run({script(), "stop"}, env_, std::chrono::seconds(120)); }

bool PrivateCluster::pause(const std::string& mode) {
  return run({script(), "pause", mode}, env_, std::chrono::seconds(60)).exit_code == 0;
}

bool PrivateCluster::resume() {
  return run({script(), "resume"}, env_, std::chrono::seconds(60)).exit_code == 0;
}

}  // namespace api_broker::testing
