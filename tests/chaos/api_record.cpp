#include "chaos/api_record.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace api_broker::chaos {
namespace {

using Json = nlohmann::json;

// Closes a socket on scope exit.
struct Socket {
  int fd;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

Result<Json> get_json(int port, const std::string& target) {
  auto body = http_get(port, target);
  if (!body) return fail(std::move(body).error());
  Json json = Json::parse(*body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return fail(Errc::corrupt,
                fmt::format("GET {}: not a JSON object: {}", target, body->substr(0, 200)));
  }
  return json;
}

}  // namespace

Result<std::vector<ApiCall>> read_calls_log(const std::string& path) {
  std::ifstream file(path);
  if (!file) return fail(Errc::not_found, fmt::format("cannot read the calls log {}", path));
  std::vector<ApiCall> calls;
  std::string line;
  std::size_t number = 0;
  while (std::getline(file, line)) {
    ++number;
    const Json entry = Json::parse(line, nullptr, false);
    const auto bad = [&] {
      return fail(Errc::corrupt, fmt::format("{}:{}: not a call: {}", path, number, line));
    };
    if (entry.is_discarded() || !entry.is_object()) return bad();
    try {
      ApiCall call{.key = entry.at("key").get<std::string>(),
                   .outcome = entry.at("outcome").get<std::string>(),
                   .received_us = entry.at("received_us").get<std::int64_t>(),
                   .answered_us = entry.at("t_us").get<std::int64_t>()};
      if (!entry.at("attempt").is_null()) call.attempt = entry.at("attempt").get<std::uint32_t>();
      calls.push_back(std::move(call));
    } catch (const Json::exception&) {
      return bad();
    }
  }
  return calls;
}

Result<std::string> http_get(int port, const std::string& target) {
  Socket socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (socket.fd < 0) return fail(Errc::unavailable, std::strerror(errno));
  timeval timeout{.tv_sec = 30, .tv_usec = 0};
  ::setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return fail(Errc::unavailable, fmt::format("GET {}: cannot connect to port {}: {}", target,
                                               port, std::strerror(errno)));
  }
  const std::string request =
      fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", target, port);
  if (::send(socket.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return fail(Errc::unavailable, fmt::format("GET {}: cannot send", target));
  }
  std::string response;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::recv(socket.fd, buffer, sizeof buffer, 0);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::unavailable, fmt::format("GET {}: {}", target, std::strerror(errno)));
    }
    response.append(buffer, static_cast<std::size_t>(got));
  }
  const auto body = response.find("\r\n\r\n");
  // "HTTP/1.0 200 OK" or "HTTP/1.1 200 OK": the server answers in the request's version.
  if (response.rfind("HTTP/1.", 0) != 0 || response.compare(8, 5, " 200 ") != 0 ||
      body == std::string::npos) {
    return fail(Errc::unavailable, fmt::format("GET {}: unexpected answer: {}", target,
                                               response.substr(0, response.find('\r'))));
  }
  return response.substr(body + 4);
}

Result<std::uint64_t> calls_in_flight(int port) {
  auto stats = get_json(port, "/stats");
  if (!stats) return fail(std::move(stats).error());
  if (!stats->contains("in_flight") || !(*stats)["in_flight"].is_number_unsigned()) {
    return fail(Errc::corrupt, "GET /stats: no in_flight");
  }
  return (*stats)["in_flight"].get<std::uint64_t>();
}

Result<std::map<std::string, std::uint64_t>> calls_per_key(int port) {
  auto keys = get_json(port, "/stats/keys");
  if (!keys) return fail(std::move(keys).error());
  std::map<std::string, std::uint64_t> counts;
  for (const auto& [key, value] : keys->items()) {
    if (!value.is_number_unsigned()) return fail(Errc::corrupt, "GET /stats/keys: not a count");
    counts[key] = value.get<std::uint64_t>();
  }
  return counts;
}

}  // namespace api_broker::chaos
