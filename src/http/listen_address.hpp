#pragma once
// Parsing and printing of a server's listen address (the brittle API, api-broker serve).

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::http::detail {

// "HOST:PORT" to an endpoint. HOST: an IPv4 address, "[IPv6 address]", "localhost"
// (127.0.0.1) or empty (0.0.0.0, as Go's ":8080"); PORT: 0..65535, 0 picks a free port.
// Errc::invalid_input with a one-line message otherwise. No name resolution.
Result<boost::asio::ip::tcp::endpoint> parse_address(std::string_view address);

// Opens `acceptor` on `endpoint` (reusing the address), binds and listens; returns the
// endpoint bound (its port when 0 was asked). Errc::invalid_input for an address of no local
// interface, Errc::unavailable when it is in use or another error, each in one line.
Result<boost::asio::ip::tcp::endpoint> listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                                                 const boost::asio::ip::tcp::endpoint& endpoint);

// "1.2.3.4:80" or "[::1]:80".
std::string to_text(const boost::asio::ip::tcp::endpoint& endpoint);

// "http://HOST:PORT" for a client on this host; a wildcard address becomes loopback.
std::string to_url(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace api_broker::http::detail
