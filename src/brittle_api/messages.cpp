#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "messages.hpp"

namespace api_broker::brittle_api::detail {

namespace beast = boost::beast;
namespace http = beast::http;

std::optional<std::uint32_t> attempt_of(const Request& request) {
  return number_header<std::uint32_t>(request, "Api-Broker-Attempt");
}

std::string_view path_of(const Request& request) {
  const beast::string_view target = request.target();
  const std::string_view text(target.data(), target.size());
  return text.substr(0, text.find('?'));
}

bool expects_continue(const Request& request) {
  return beast::iequals(request[http::field::expect], "100-continue");
}

Response reply(const Request& request, http::status status, std::string body,
               std::string_view content_type) {
  Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type,
               beast::string_view(content_type.data(), content_type.size()));
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace api_broker::brittle_api::detail
