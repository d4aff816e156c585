#pragma once
// The route table: (method, path pattern) -> handler, with the access each route needs. A
// pattern is literal segments, "{name}" segments (captured into Request::params) and an
// optional last "*" (any rest, captured as params["*"]). Dispatch answers 404 for a path no
// route has, 405 for a known path with another method, 401 / 403 when the caller's access is
// short; otherwise it calls the handler.

#include <string>
#include <vector>

#include "message.hpp"

namespace api_broker::service {

enum class Needs : std::uint8_t {
  nothing,  // public: /healthz, the dashboard's static files
  read,     // a read-only or a full token (GET routes)
  write,    // a full token
};

class Router {
 public:
  // REQUIRES: the pattern starts with '/'; "*" only as the last segment.
  void add(std::string method, std::string pattern, Needs needs, Handler handler);
  // Finds the route of `request` (filling params), checks request.access, and calls its
  // handler, or answers the error itself.
  void dispatch(Request& request, const Respond& respond) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Needs needs;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b/c" into {"a","b","c"} ("/" is one empty segment).
std::vector<std::string> split_path(std::string_view path);

}  // namespace api_broker::service
