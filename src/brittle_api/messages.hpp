#pragma once
// The brittle API's HTTP messages: reading what the processor's headers say, and building
// the plain answers every path gives.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
// GCC 12 with -fsanitize=address reports boost::optional inside Beast's parser as maybe
// uninitialized (a false positive); the pragma must cover the header that defines it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace api_broker::brittle_api::detail {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// A header of api-broker's processor holding a decimal number, if valid.
template <typename T>
std::optional<T> number_header(const Request& request, std::string_view name) {
  const auto text = request[boost::beast::string_view(name.data(), name.size())];
  T value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The Api-Broker-Attempt header (0-based).
std::optional<std::uint32_t> attempt_of(const Request& request);

// The request's target without its query.
std::string_view path_of(const Request& request);

// The client asks for 100 Continue before it sends the body.
bool expects_continue(const Request& request);

// A complete answer to `request` with `body`, kept alive if the request asked so.
Response reply(const Request& request, boost::beast::http::status status, std::string body,
               std::string_view content_type = "text/plain");

}  // namespace api_broker::brittle_api::detail
