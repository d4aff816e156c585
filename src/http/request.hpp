#pragma once
// The request one call sends: its method, target, headers and body checked and put together
// before the call is queued, so that a bad header fails the call without touching a socket.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/http/response.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/result.hpp"

namespace api_broker::http::detail {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// `method` url.base_path + target with `body`, Host, User-Agent, a default Content-Type (for
// a body, or any POST) and `headers`. Errc::invalid_input for a method other than GET, HEAD,
// POST, PUT, PATCH, DELETE or OPTIONS, a body with GET or HEAD, a target with a space or
// control character, a header name that is not a token, a value with a control character, or
// a header the client sets itself (Content-Length, Transfer-Encoding).
Result<Request> build_request(std::string_view method, const Url& url, std::string_view target,
                              std::string body, const std::vector<Header>& headers);

}  // namespace api_broker::http::detail
