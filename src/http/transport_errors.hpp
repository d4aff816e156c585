#pragma once
// How the client reads what the socket and the parser report: the process's own shortage of
// descriptors, a peer that closed, and the one-line messages a failed call carries.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace api_broker::http::detail {

// True when the peer of an idle connection has closed it (or sent bytes nobody asked for):
// a cheap look before reusing it, instead of sending the request and retrying.
bool is_stale(boost::asio::ip::tcp::socket& socket);

// A socket could not be opened for want of a descriptor or of kernel memory: the process's
// shortage, not the API's failure.
bool is_local_shortage(boost::system::error_code ec);

// The peer closed or reset the connection.
bool is_closed_by_peer(boost::system::error_code ec);

// The message of a call whose request could not be written.
std::string write_error(boost::system::error_code ec);

// The message of a call whose response could not be read; `got_some`: part of a response
// had arrived; `body_bytes_read_max`: the body bound the parser enforced.
std::string read_error(boost::system::error_code ec, bool got_some,
                       std::size_t body_bytes_read_max);

}  // namespace api_broker::http::detail
