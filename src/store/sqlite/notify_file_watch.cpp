#include "notify_file_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

namespace api_broker::store {

NotifyFileWatch::NotifyFileWatch(const std::string& database_path) {
  const std::filesystem::path path(database_path);
  notify_name_ = path.filename().string();
  notify_name_ += "-notify";
  std::string folder = path.parent_path().string();
  if (folder.empty()) folder = ".";
  const std::string notify_path = folder + "/" + notify_name_;
  notify_fd_ = ::open(notify_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ >= 0 && inotify_add_watch(fd_, folder.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

NotifyFileWatch::~NotifyFileWatch() {
  if (fd_ >= 0) ::close(fd_);
  if (notify_fd_ >= 0) ::close(notify_fd_);
}

void NotifyFileWatch::announce() {
  if (notify_fd_ < 0) return;
  const char byte = 0;
  [[maybe_unused]] const ssize_t written = ::pwrite(notify_fd_, &byte, 1, 0);
}

void NotifyFileWatch::drain() {
  if (fd_ < 0) return;
  alignas(inotify_event) std::array<char, 4096> buffer;
  while (::read(fd_, buffer.data(), buffer.size()) > 0) {
  }
}

void NotifyFileWatch::wait(std::chrono::milliseconds timeout, const StopSignal& stop) {
  if (fd_ < 0) {
    stop.wait_for(std::min(timeout, std::chrono::milliseconds(50)));
    return;
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  alignas(inotify_event) std::array<char, 4096> buffer;
  while (!stop.stop_requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    std::array<pollfd, 2> fds{pollfd{fd_, POLLIN, 0}, pollfd{stop.fd(), POLLIN, 0}};
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) return;
    if ((fds[1].revents & POLLIN) != 0) return;
    // Other files in the folder change too: wake only for our announcements.
    ssize_t got;
    bool ours = false;
    while ((got = ::read(fd_, buffer.data(), buffer.size())) > 0) {
      for (ssize_t offset = 0; offset < got;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
        if (event->len > 0 && notify_name_ == event->name) ours = true;
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (ours) return;
  }
}

}  // namespace api_broker::store
