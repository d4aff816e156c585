#pragma once
// A Beast body that keeps the first `stored_max` bytes and counts the rest, so that a large
// response costs a bounded amount of memory, and fails with http::error::body_limit past
// `read_max` bytes.
//
// The body enforces read_max itself because Beast 1.74's parser does not: with eager parsing
// (which http::async_read turns on) the body_limit error that finish_header() raises for a
// too large Content-Length is dropped and the body is read anyway. Errors from the body
// reader are not dropped. Chunked bodies are checked by both.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace api_broker::http::detail {

struct CappedBody {
  struct value_type {
    std::string data;            // the first stored_max bytes
    std::size_t stored_max = 0;  // set before parsing
    std::uint64_t read_max = 0;  // set before parsing
    std::size_t size = 0;        // all bytes received
  };

  class reader {
   public:
    template <bool is_request, class Fields>
    reader(boost::beast::http::header<is_request, Fields>& /*header*/, value_type& body)
        : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      if (length && *length > body_.read_max) {
        ec = boost::beast::http::error::body_limit;
        return;
      }
      if (length) {
        body_.data.reserve(static_cast<std::size_t>(
            std::min<std::uint64_t>(*length, static_cast<std::uint64_t>(body_.stored_max))));
      }
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      const std::size_t bytes = boost::asio::buffer_size(buffers);
      if (bytes > body_.read_max - body_.size) {
        ec = boost::beast::http::error::body_limit;
        return 0;
      }
      for (const auto buffer : boost::beast::buffers_range_ref(buffers)) {
        const auto* data = static_cast<const char*>(buffer.data());
        const std::size_t room = body_.stored_max - body_.data.size();
        body_.data.append(data, std::min(room, buffer.size()));
      }
      body_.size += bytes;
      ec = {};
      return bytes;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace api_broker::http::detail
