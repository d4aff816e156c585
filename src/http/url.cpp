#include "api_broker/http/url.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/limits.hpp"

namespace api_broker::http {
namespace {

// `text` for an error message: one line, printable, bounded.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < limits::quoted_input_chars_max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limits::quoted_input_chars_max) out += "...";
  out += '"';
  return out;
}

// `text` with user information ("user:password@") in its authority replaced by "***", so
// that an error message never shows a password.
std::string without_userinfo(std::string_view text) {
  const std::size_t scheme_end = text.find("://");
  const std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::size_t end = text.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = text.size();
  const std::size_t at = text.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, start)) + "***" + std::string(text.substr(start + at));
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// RFC 3986 reg-name, restricted to what DNS names and IPv4 addresses use.
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; }

// RFC 3986 pchar without '%' (checked separately) plus '/': unreserved, sub-delims, ":@/".
bool is_path_char(char c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("-._~!$&'()*+,;=:@/").find(c) != std::string_view::npos;
}

bool is_ipv6_char(char c) { return is_hex(c) || c == ':' || c == '.'; }

// Why a part of a URL is invalid; nullopt when it is valid.
using Why = std::optional<std::string>;

// The host and the port text of an authority; `port_text` is set only if a port is given.
struct HostPort {
  std::string_view host;
  std::optional<std::string_view> port_text;
};

Why check_characters(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return "it contains a space, a control or a non-ASCII character";
  }
  return std::nullopt;
}

// "[v6]" or "[v6]:port".
Why split_bracketed(std::string_view authority, HostPort& out) {
  const std::size_t close = authority.find(']');
  if (close == std::string_view::npos) return "'[' without ']' around the IPv6 host";
  const std::string_view host = authority.substr(1, close - 1);
  if (host.empty()) return "missing host";
  for (const char c : host) {
    if (!is_ipv6_char(c)) return "bad IPv6 address";
  }
  if (host.find(':') == std::string_view::npos) return "bad IPv6 address";
  out.host = host;
  const std::string_view after = authority.substr(close + 1);
  if (!after.empty()) {
    if (after.front() != ':') return "unexpected characters after the IPv6 host";
    out.port_text = after.substr(1);
  }
  return std::nullopt;
}

// "host" or "host:port", the host a name or an IPv4 address.
Why split_plain(std::string_view authority, HostPort& out) {
  const std::size_t colon = authority.find(':');
  if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
    return "an IPv6 host must be in brackets";
  }
  const std::string_view host = authority.substr(0, colon);
  if (host.empty()) return "missing host";
  for (const char c : host) {
    if (!is_host_char(c)) return fmt::format("bad character '{}' in the host", c);
  }
  out.host = host;
  if (colon != std::string_view::npos) out.port_text = authority.substr(colon + 1);
  return std::nullopt;
}

Why parse_port(std::string_view port_text, std::uint16_t& out) {
  unsigned long port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 5;
  for (const char c : port_text) {
    if (!is_digit(c)) {
      digits = false;
      break;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (!digits || port == 0 || port > 65535) return fmt::format("bad port {}", quote(port_text));
  out = static_cast<std::uint16_t>(port);
  return std::nullopt;
}

// Sets the host and port of `url` from `authority`.
Why parse_authority(std::string_view authority, Url& url) {
  if (authority.find('@') != std::string_view::npos) return "user information is not supported";
  HostPort parts;
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (Why why = bracketed ? split_bracketed(authority, parts) : split_plain(authority, parts)) {
    return why;
  }
  url.host = std::string(parts.host);
  if (parts.port_text) return parse_port(*parts.port_text, url.port);
  return std::nullopt;
}

// Sets the base path of `url` from `path` (without its trailing '/'). REQUIRES: no query.
Why parse_path(std::string_view path, Url& url) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
        return "'%' in the path is not followed by two hex digits";
      }
      i += 2;
    } else if (!is_path_char(c)) {
      return fmt::format("bad character '{}' in the path", c);
    }
  }
  url.base_path = std::string(path);
  return std::nullopt;
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  const auto invalid = [&](std::string_view why) {
    return fail(Errc::invalid_input,
                fmt::format("invalid URL {}: {}", quote(without_userinfo(text)), why));
  };
  if (text.empty()) return fail(Errc::invalid_input, "invalid URL: it is empty");
  if (Why why = check_characters(text)) return invalid(*why);

  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos)
    return invalid("it must start with http:// or https://");
  const std::string_view scheme_text = text.substr(0, scheme_end);
  Url url;
  if (equals_ignoring_case(scheme_text, "https")) {
    url.scheme = Scheme::https;
  } else if (!equals_ignoring_case(scheme_text, "http")) {
    return invalid("it must start with http:// or https://");
  }
  url.port = default_port(url.scheme);

  const std::string_view rest = text.substr(scheme_end + 3);
  const std::size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view path =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  // A query is named before any fault of the authority.
  if (path.find_first_of("?#") != std::string_view::npos) {
    return invalid("a query or fragment is not supported");
  }
  if (Why why = parse_authority(authority, url)) return invalid(*why);
  if (Why why = parse_path(path, url)) return invalid(*why);
  return url;
}

std::uint16_t default_port(Scheme scheme) { return scheme == Scheme::https ? 443 : 80; }

std::string host_header(const Url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + url.host + "]" : url.host;
  if (url.port != default_port(url.scheme)) host += fmt::format(":{}", url.port);
  return host;
}

std::string to_string(const Url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  return fmt::format("{}://{}:{}{}", url.scheme == Scheme::https ? "https" : "http",
                     ipv6 ? "[" + url.host + "]" : url.host, url.port, url.base_path);
}

}  // namespace api_broker::http
