#include "listen_address.hpp"

#include <charconv>
#include <cstdint>

#include <fmt/core.h>

namespace api_broker::http::detail {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

Unexpected<Error> bad_address(std::string_view address, std::string_view why) {
  return fail(Errc::invalid_input,
              fmt::format("invalid address '{}': {} (expected HOST:PORT, e.g. 127.0.0.1:8080, "
                          "[::1]:8080 or :8080)",
                          address, why));
}

}  // namespace

Result<tcp::endpoint> parse_address(std::string_view address) {
  std::string_view host;
  std::string_view port_text;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string_view::npos) return bad_address(address, "missing ']'");
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return bad_address(address, "missing ':PORT' after ']'");
    }
    port_text = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad_address(address, "missing ':PORT'");
    host = address.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad_address(address, "an IPv6 address needs brackets");
    }
    port_text = address.substr(colon + 1);
  }

  std::uint16_t port = 0;
  const auto* const port_end = port_text.data() + port_text.size();
  const auto [parsed_end, port_error] = std::from_chars(port_text.data(), port_end, port);
  if (port_text.empty() || port_error != std::errc{} || parsed_end != port_end) {
    return bad_address(address, "the port must be a number from 0 to 65535");
  }

  if (host.empty() && !address.starts_with('[')) return tcp::endpoint(tcp::v4(), port);
  if (host == "localhost") return tcp::endpoint(asio::ip::address_v4::loopback(), port);
  boost::system::error_code error;
  const auto ip = address.starts_with('[')
                      ? asio::ip::address(asio::ip::make_address_v6(std::string(host), error))
                      : asio::ip::address(asio::ip::make_address_v4(std::string(host), error));
  if (error) return bad_address(address, fmt::format("'{}' is not an IP address", host));
  return tcp::endpoint(ip, port);
}

Result<tcp::endpoint> listen_on(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  const std::string where = to_text(endpoint);
  boost::system::error_code error;
  tcp::endpoint bound;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (!error) bound = acceptor.local_endpoint(error);
  if (error == boost::system::errc::address_not_available) {
    return fail(Errc::invalid_input,
                fmt::format("cannot listen on {}: not an address of this host", where));
  }
  if (error == boost::system::errc::address_in_use) {
    return fail(Errc::unavailable,
                fmt::format("cannot listen on {}: the address is already in use", where));
  }
  if (error) {
    return fail(Errc::unavailable, fmt::format("cannot listen on {}: {}", where, error.message()));
  }
  return bound;
}

std::string to_text(const tcp::endpoint& endpoint) {
  const auto ip = endpoint.address();
  if (ip.is_v6()) return fmt::format("[{}]:{}", ip.to_string(), endpoint.port());
  return fmt::format("{}:{}", ip.to_string(), endpoint.port());
}

std::string to_url(const tcp::endpoint& endpoint) {
  auto ip = endpoint.address();
  if (ip.is_unspecified()) {
    ip = ip.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                    : asio::ip::address(asio::ip::address_v4::loopback());
  }
  return "http://" + to_text(tcp::endpoint(ip, endpoint.port()));
}

}  // namespace api_broker::http::detail
