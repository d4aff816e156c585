#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <vector>

namespace api_broker::testing {
namespace {

constexpr std::size_t connections_max = 64;

struct Pair {
  int client = -1;
  int upstream = -1;
};

void close_pair(Pair& pair) {
  if (pair.client >= 0) ::close(pair.client);
  if (pair.upstream >= 0) ::close(pair.upstream);
  pair = Pair{};
}

// Copies what `from` has to `to`; false when either side is closed or broken.
bool relay(int from, int to) {
  std::array<char, 64 * 1024> buffer;
  const ssize_t got = ::read(from, buffer.data(), buffer.size());
  if (got <= 0) return false;
  for (ssize_t sent = 0; sent < got;) {
    const ssize_t wrote = ::write(to, buffer.data() + sent, static_cast<std::size_t>(got - sent));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    sent += wrote;
  }
  return true;
}

int connect_to(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(std::string target_host, int target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("tcp proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  wake();
  thread_.join();
  ::close(listener_);
  ::close(wake_fd_);
}

void TcpProxy::wake() { (void)eventfd_write(wake_fd_, 1); }

void TcpProxy::drop() {
  ++drops_requested_;
  wake();
}

void TcpProxy::refuse(bool refusing) {
  refusing_ = refusing;
  if (refusing) drop();
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  int drops_done = 0;
  while (!stopping_) {
    if (const int requested = drops_requested_; requested != drops_done) {
      for (Pair& pair : pairs) close_pair(pair);
      pairs.clear();
      drops_done = requested;
    }
    std::vector<pollfd> fds = {{listener_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    for (const Pair& pair : pairs) {
      fds.push_back({pair.client, POLLIN, 0});
      fds.push_back({pair.upstream, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[1].revents != 0) {
      eventfd_t ignored = 0;
      (void)eventfd_read(wake_fd_, &ignored);
    }
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      Pair& pair = pairs[i];
      const short client_events = fds[2 + 2 * i].revents;
      const short upstream_events = fds[3 + 2 * i].revents;
      bool alive = true;
      if (client_events != 0) alive = relay(pair.client, pair.upstream);
      if (alive && upstream_events != 0) alive = relay(pair.upstream, pair.client);
      if (!alive) close_pair(pair);
    }
    std::erase_if(pairs, [](const Pair& pair) { return pair.client < 0; });
    if (fds[0].revents != 0) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int upstream = refusing_ || pairs.size() >= connections_max
                               ? -1
                               : connect_to(target_host_, target_port_);
      if (upstream < 0) {
        ::close(client);
        continue;
      }
      const int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      pairs.push_back(Pair{client, upstream});
    }
  }
  for (Pair& pair : pairs) close_pair(pair);
}

}  // namespace api_broker::testing
