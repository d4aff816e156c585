#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace api_broker::http::detail {
namespace {

namespace bhttp = boost::beast::http;

constexpr const char* user_agent = "api-broker";

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_field_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    return lower(x) == lower(y);
  });
}

// Why `header` may not be sent, if it may not.
Result<void> check_header(const Header& header) {
  const auto& [name, value] = header;
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
    return fail(Errc::invalid_input, "bad header name");
  }
  if (!std::all_of(value.begin(), value.end(), is_field_value_char)) {
    return fail(Errc::invalid_input, fmt::format("bad value for header {}", name));
  }
  if (equals_ignoring_case(name, "content-length") ||
      equals_ignoring_case(name, "transfer-encoding")) {
    return fail(Errc::invalid_input, fmt::format("header {} is set by the client", name));
  }
  return {};
}

// The verb of `method`, if the client sends it (case-sensitive, as RFC 9110 says).
Result<bhttp::verb> to_verb(std::string_view method) {
  const bhttp::verb verb = bhttp::string_to_verb({method.data(), method.size()});
  switch (verb) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::post:
    case bhttp::verb::put:
    case bhttp::verb::patch:
    case bhttp::verb::delete_:
    case bhttp::verb::options:
      return verb;
    default:
      return fail(Errc::invalid_input,
                  fmt::format("unsupported method '{}' (GET, HEAD, POST, PUT, PATCH, DELETE or "
                              "OPTIONS)",
                              method.substr(0, 32)));
  }
}

}  // namespace

Result<Request> build_request(std::string_view method, const Url& url, std::string_view target,
                              std::string body, const std::vector<Header>& headers) {
  auto verb = to_verb(method);
  if (!verb) return fail(std::move(verb).error());
  if (!body.empty() && (*verb == bhttp::verb::get || *verb == bhttp::verb::head)) {
    return fail(Errc::invalid_input, fmt::format("a {} request has no body", method));
  }
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return fail(Errc::invalid_input, "request target contains a space or a control character");
    }
  }
  std::string path = url.base_path;
  if (!target.empty() && target.front() != '/' && target.front() != '?') path += '/';
  path += target;
  if (path.empty() || path.front() != '/') path.insert(0, "/");

  Request request{*verb, path, 11};
  request.set(bhttp::field::host, host_header(url));
  request.set(bhttp::field::user_agent, user_agent);
  if (!body.empty() || *verb == bhttp::verb::post) {
    request.set(bhttp::field::content_type, "application/octet-stream");
  }
  for (const auto& header : headers) {
    if (auto checked = check_header(header); !checked) return fail(std::move(checked).error());
    request.set(header.first, header.second);
  }
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace api_broker::http::detail
