#include "sqlite_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace api_broker::store {

Error not_a_store(const std::string& path, std::string_view why) {
  return Error{
      Errc::corrupt,
      fmt::format("{} is not an api-broker event store ({}); it was left as it is", path, why)};
}

Result<void> check_or_create_file(const SqliteOptions& options) {
  const std::string& path = options.path;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return fail(Errc::invalid_input,
                  fmt::format("sqlite database {} is a directory, not a file", path));
    }
    if (info.st_size == 0 && options.read_only) {
      return fail(not_a_store(path, "an empty file"));
    }
    if (info.st_size > 0) {  // 0: a writer that has just created it
      static constexpr char magic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                         'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
      char header[sizeof magic] = {};
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return fail(Errc::unavailable, fmt::format("cannot open sqlite database {}: {}", path,
                                                   std::generic_category().message(errno)));
      }
      const ssize_t got = ::pread(fd, header, sizeof header, 0);
      ::close(fd);
      if (got != static_cast<ssize_t>(sizeof header) ||
          std::memcmp(header, magic, sizeof magic) != 0) {
        return fail(not_a_store(path, "not a SQLite database"));
      }
    }
  } else if (options.read_only) {
    return fail(Errc::unavailable,
                fmt::format("sqlite database {} does not exist (only commands that write create "
                            "one)",
                            path));
  } else {
    // Create it readable by its owner only; SQLite gives -wal and -shm the same mode.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return fail(Errc::unavailable, fmt::format("cannot create sqlite database {}: {}", path,
                                                 std::generic_category().message(errno)));
    }
    ::close(fd);
  }
  if (::access(path.c_str(), options.read_only ? R_OK : R_OK | W_OK) != 0) {
    return fail(Errc::unavailable, fmt::format("cannot open sqlite database {}: {}", path,
                                               std::generic_category().message(errno)));
  }
  return {};
}

std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (const char c : path) {
    if (c == '?' || c == '#' || c == '%') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

}  // namespace api_broker::store
