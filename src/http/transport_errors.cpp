#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "transport_errors.hpp"

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>

#include "api_broker/limits.hpp"

namespace api_broker::http::detail {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;

bool is_stale(asio::ip::tcp::socket& socket) {
  char byte = 0;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return true;
}

bool is_local_shortage(error_code ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory;
}

bool is_closed_by_peer(error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe;
}

std::string write_error(error_code ec) {
  if (is_closed_by_peer(ec)) return "connection closed without a response";
  return fmt::format("cannot send the request: {}", ec.message());
}

std::string read_error(error_code ec, bool got_some, std::size_t body_bytes_read_max) {
  if (ec == bhttp::error::body_limit) {
    return fmt::format("response body larger than {} bytes", body_bytes_read_max);
  }
  if (ec == bhttp::error::header_limit) {
    return fmt::format("response header larger than {} bytes",
                       limits::http_response_header_bytes_max);
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      is_closed_by_peer(ec)) {
    return got_some ? "connection closed during the response"
                    : "connection closed without a response";
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return fmt::format("malformed response: {}", ec.message());
  }
  return fmt::format("cannot read the response: {}", ec.message());
}

}  // namespace api_broker::http::detail
