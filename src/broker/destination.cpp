#include "api_broker/broker/destination.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

namespace api_broker::broker {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         equals_ignoring_case(text.substr(0, prefix.size()), prefix);
}

// RFC 9110 token characters.
bool is_token_char(char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         extra.find(c) != std::string_view::npos;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  if (!starts_with_ignoring_case(text, "http://") && !starts_with_ignoring_case(text, "https://")) {
    return fail(Errc::invalid_input,
                fmt::format("invalid URL '{}': it must be an absolute http or https URL",
                            events::printable(text, limits::quoted_input_chars_max)));
  }
  auto url = http::parse_url(text);
  if (!url) return fail(std::move(url).error());
  return Endpoint{.url = std::move(*url)};
}

std::string to_string(const Endpoint& endpoint) { return http::to_string(endpoint.url); }

Result<Location> parse_location(std::string_view text) {
  const std::size_t query = text.find('?');
  const std::string_view base = text.substr(0, query);
  auto endpoint = parse_endpoint(base);
  if (!endpoint) return fail(std::move(endpoint).error());
  if (query != std::string_view::npos) {
    const std::string_view rest = text.substr(query);
    for (const char c : rest) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') {
        return fail(Errc::invalid_input,
                    fmt::format("invalid URL '{}': its query has a space, a control character "
                                "or a fragment",
                                events::printable(text, limits::quoted_input_chars_max)));
      }
    }
  }
  // The path as written (parse_endpoint dropped a trailing '/'), then the query.
  const std::size_t scheme_end = base.find("://") + 3;
  const std::size_t path_start = base.find('/', scheme_end);
  std::string target = path_start == std::string_view::npos ? std::string("/")
                                                            : std::string(base.substr(path_start));
  if (query != std::string_view::npos) target += text.substr(query);
  endpoint->url.base_path.clear();
  return Location{.endpoint = std::move(*endpoint), .target = std::move(target)};
}

Result<UrlPrefix> parse_allow_url(std::string_view text) {
  auto prefix = parse_endpoint(text);
  if (!prefix) {
    return fail(Errc::invalid_input, fmt::format("--allow-url: {}", prefix.error().message));
  }
  return prefix;
}

bool allows(const std::vector<UrlPrefix>& prefixes, const Location& location) {
  const std::string_view path =
      std::string_view(location.target).substr(0, location.target.find('?'));
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const UrlPrefix& prefix) {
    const http::Url& url = prefix.url;
    if (url.scheme != location.endpoint.url.scheme || url.port != location.endpoint.url.port ||
        !equals_ignoring_case(url.host, location.endpoint.url.host)) {
      return false;
    }
    const std::string_view base = url.base_path;  // "" or "/a/b", no trailing '/'
    return path.substr(0, base.size()) == base &&
           (path.size() == base.size() || path[base.size()] == '/');
  });
}

Result<void> check_allowed(const std::vector<UrlPrefix>& prefixes, const events::Request& request) {
  if (request.url.empty()) return {};
  auto location = parse_location(request.url);
  if (!location) return fail(std::move(location).error());
  if (!allows(prefixes, *location)) {
    return fail(Errc::invalid_input,
                fmt::format("url {} is not allowed: no --allow-url prefix (or "
                            "API_BROKER_ALLOW_URLS) covers it",
                            events::printable(request.url, limits::quoted_input_chars_max)));
  }
  return {};
}

Result<std::string> normalize_method(std::string_view method) {
  static constexpr std::array<std::string_view, 6> known = {"GET", "HEAD",  "POST",
                                                            "PUT", "PATCH", "DELETE"};
  if (method.empty()) return std::string("POST");
  for (const std::string_view name : known) {
    if (equals_ignoring_case(method, name)) return std::string(name);
  }
  return fail(Errc::invalid_input,
              fmt::format("method '{}' is not one of GET, HEAD, POST, PUT, PATCH, DELETE",
                          events::printable(method)));
}

Result<void> check_header(const events::HeaderField& header) {
  const std::string_view name = header.name;
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
    return fail(Errc::invalid_input,
                fmt::format("header name '{}' is not a token (letters, digits and !#$%&'*+-.^_`|~)",
                            events::printable(name)));
  }
  for (const std::string_view reserved :
       {"Host", "Content-Length", "Transfer-Encoding", "Connection"}) {
    if (equals_ignoring_case(name, reserved)) {
      return fail(Errc::invalid_input,
                  fmt::format("header {} is set by the broker and cannot be given", reserved));
    }
  }
  if (equals_ignoring_case(name, "Idempotency-Key") ||
      starts_with_ignoring_case(name, "Api-Broker-")) {
    return fail(
        Errc::invalid_input,
        fmt::format("header {} is set by the broker and cannot be given", events::printable(name)));
  }
  if (header.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return fail(Errc::invalid_input,
                fmt::format("header {}: its value has a CR, LF or NUL", events::printable(name)));
  }
  return {};
}

Result<void> check_headers(const std::vector<events::HeaderField>& headers) {
  if (headers.size() > limits::header_fields_max) {
    return fail(Errc::invalid_input, fmt::format("{} header fields, at most {} are allowed",
                                                 headers.size(), limits::header_fields_max));
  }
  for (const events::HeaderField& header : headers) {
    if (auto checked = check_header(header); !checked) return checked;
  }
  return {};
}

Result<events::HeaderField> parse_header_argument(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail(Errc::invalid_input,
                fmt::format("--header '{}': expected 'Name: value'", events::printable(text)));
  }
  std::string_view value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  events::HeaderField header{.name = std::string(text.substr(0, colon)),
                             .value = std::string(value)};
  if (auto checked = check_header(header); !checked) return fail(std::move(checked).error());
  return header;
}

Result<events::Request> check_request(events::Request request) {
  auto method = normalize_method(request.method);
  if (!method) return fail(std::move(method).error());
  if ((*method == "GET" || *method == "HEAD") && !request.request.empty()) {
    return fail(Errc::invalid_input, fmt::format("a {} request has no body", *method));
  }
  request.method = *method == "POST" ? std::string() : std::move(*method);
  if (!request.url.empty() && !request.target.empty()) {
    return fail(Errc::invalid_input, "a request names a url or a target, not both");
  }
  if (!request.url.empty()) {
    if (auto location = parse_location(request.url); !location) {
      return fail(std::move(location).error());
    }
  }
  if (!request.path.empty()) {
    if (request.target.empty()) {
      return fail(Errc::invalid_input,
                  "path is only for a request to a target (with url, put "
                  "the path in the url)");
    }
    if (request.path.front() != '/') {
      return fail(Errc::invalid_input,
                  fmt::format("path '{}' must start with '/'", events::printable(request.path)));
    }
    const auto bad = std::find_if(request.path.begin(), request.path.end(), [](char c) {
      return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#';
    });
    if (bad != request.path.end()) {
      return fail(Errc::invalid_input,
                  fmt::format("path '{}' has a space, a control character or a fragment",
                              events::printable(request.path)));
    }
  }
  if (auto headers = check_headers(request.headers); !headers)
    return fail(std::move(headers).error());
  if (!request.content_type.empty()) {
    auto header = check_header({.name = "Content-Type", .value = request.content_type});
    if (!header) return fail(std::move(header).error());
  }
  return request;
}

bool is_secret_reference(std::string_view value) {
  return value.rfind("env:", 0) == 0 || value.rfind("file:", 0) == 0;
}

}  // namespace api_broker::broker
