#pragma once
// Errors as the API answers them: JSON {"error":{"code":"...","message":"..."}} with a stable
// code (docs/API.md lists them) and a one-line message.

#include <string_view>

#include "api_broker/result.hpp"
#include "message.hpp"

namespace api_broker::service {

// The stable codes.
namespace code {
inline constexpr std::string_view invalid_json = "invalid_json";                  // 400
inline constexpr std::string_view invalid_request = "invalid_request";            // 400
inline constexpr std::string_view invalid_id = "invalid_id";                      // 400
inline constexpr std::string_view unauthorized = "unauthorized";                  // 401
inline constexpr std::string_view forbidden = "forbidden";                        // 403
inline constexpr std::string_view not_found = "not_found";                        // 404
inline constexpr std::string_view method_not_allowed = "method_not_allowed";      // 405
inline constexpr std::string_view idempotency_conflict = "idempotency_conflict";  // 409
inline constexpr std::string_view state_conflict = "state_conflict";              // 409
inline constexpr std::string_view body_too_large = "body_too_large";              // 413
inline constexpr std::string_view header_too_large = "header_too_large";          // 431
inline constexpr std::string_view unavailable = "unavailable";                    // 503
inline constexpr std::string_view internal = "internal";                          // 500
}  // namespace code

// The JSON error body.
std::string error_body(std::string_view code, std::string_view message);
Response error_response(int status, std::string_view code, std::string_view message);
// An Error of the layers below: invalid_input 400 invalid_request, not_found 404, duplicate
// 409 idempotency_conflict, unavailable / cancelled / fenced 503, others 500.
Response error_response(const Error& error);

}  // namespace api_broker::service
