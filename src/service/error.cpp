#include "error.hpp"

#include <string>

#include "api_broker/events/codec.hpp"

namespace api_broker::service {

std::string error_body(std::string_view code, std::string_view message) {
  std::string one_line(message);
  for (char& c : one_line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "{\"error\":{\"code\":" + events::json_string(code) +
         ",\"message\":" + events::json_string(one_line) + "}}";
}

Response error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, error_body(code, message));
}

Response error_response(const Error& error) {
  switch (error.code) {
    case Errc::invalid_input:
      return error_response(400, code::invalid_request, error.message);
    case Errc::not_found:
      return error_response(404, code::not_found, error.message);
    case Errc::duplicate:
      return error_response(409, code::idempotency_conflict, error.message);
    case Errc::unavailable:
    case Errc::cancelled:
    case Errc::fenced:
      return error_response(503, code::unavailable, error.message);
    case Errc::corrupt:
    case Errc::unsupported:
    case Errc::rejected:
      break;
  }
  return error_response(500, code::internal, error.message);
}

}  // namespace api_broker::service
