#include "redirect.hpp"

#include <fmt/format.h>

#include <cstddef>

namespace api_broker::http::detail {
namespace {

std::string lower_case(std::string text) {
  for (char& c : text) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return text;
}

// The path and query of `rest` ("/p?q#f" -> "/p?q"), "/" when it has none.
std::string path_and_query(std::string_view rest) {
  rest = rest.substr(0, rest.find('#'));
  std::string target(rest);
  if (target.empty() || target.front() != '/') target.insert(0, "/");
  return target;
}

Result<Hop> absolute(std::string_view location) {
  const std::size_t scheme_end = location.find("://");
  const std::size_t authority_end = location.find_first_of("/?#", scheme_end + 3);
  auto origin = parse_url(location.substr(0, authority_end));
  if (!origin) return fail(Errc::invalid_input, "redirect to an " + origin.error().message);
  Hop hop{std::move(origin).value(), "/"};
  if (authority_end != std::string_view::npos) {
    hop.target = path_and_query(location.substr(authority_end));
  }
  return hop;
}

}  // namespace

Result<Hop> resolve_location(const Url& from, std::string_view from_target,
                             std::string_view location) {
  for (const char c : location) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return fail(Errc::invalid_input,
                  "redirect Location contains a space, a control or a non-ASCII character");
    }
  }
  if (location.empty()) return fail(Errc::invalid_input, "redirect with an empty Location");
  if (location.find("://") != std::string_view::npos &&
      location.find("://") < location.find_first_of("/?#")) {
    return absolute(location);
  }
  if (location.starts_with("//")) {
    return absolute(std::string(from.scheme == Scheme::https ? "https:" : "http:") +
                    std::string(location));
  }
  Url origin = from;
  origin.base_path.clear();
  if (location.front() == '/') return Hop{origin, path_and_query(location)};
  // Relative: beside the last segment of the path that was requested.
  std::string base = from.base_path + std::string(from_target.substr(0, from_target.find('?')));
  base.erase(base.rfind('/') + 1);  // npos + 1 == 0: nothing was left of it
  if (location.front() == '?') {
    base = from.base_path + std::string(from_target.substr(0, from_target.find('?')));
  }
  return Hop{origin, path_and_query(base + std::string(location))};
}

std::string redirected_method(unsigned status, std::string_view method) {
  if (method == "HEAD" || status == 307 || status == 308) return std::string(method);
  if (status == 303 || method == "POST") return "GET";
  return std::string(method);
}

bool is_followed_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool same_origin(const Url& a, const Url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

void take_hop(Call& call, unsigned status, Hop hop) {
  const std::string method = redirected_method(status, call.method);
  const bool keeps_body = method == call.method && (status == 307 || status == 308);
  if (!keeps_body) call.body.clear();
  const bool same = same_origin(call.url, hop.url);
  std::erase_if(call.headers, [&](const Header& header) {
    const std::string name = lower_case(header.first);
    // Credentials stay with their origin; a Content-Type described the body left behind.
    return (!same &&
            (name == "authorization" || name == "proxy-authorization" || name == "cookie")) ||
           (!keeps_body && name == "content-type");
  });
  call.method = method;
  call.url = std::move(hop.url);
  call.target = std::move(hop.target);
}

}  // namespace api_broker::http::detail
