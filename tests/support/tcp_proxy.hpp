#pragma once
// A TCP relay on 127.0.0.1 for tests that break connections to a database server: every
// connection to port() is relayed to the target. drop() closes every relayed connection, as
// a server restart or a cut network would; refuse(true) closes new connections at once, as
// a server that is down would, until refuse(false). One thread; bounded to 64 connections.

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace api_broker::testing {

class TcpProxy {
 public:
  // REQUIRES: `target_host` is a numeric IPv4 address of this machine (127.0.0.1).
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void drop();
  void refuse(bool refusing);

 private:
  void run();
  void wake();

  std::string target_host_;
  int target_port_;
  int listener_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> refusing_{false};
  std::atomic<int> drops_requested_{0};
  std::thread thread_;
};

}  // namespace api_broker::testing
