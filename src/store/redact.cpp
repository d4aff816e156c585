#include "api_broker/store/redact.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace api_broker::store {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool iequals(std::string_view text, std::size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  }
  return true;
}

// Hides the password of every "scheme://user:password@host" in `text`.
std::string redact_uri_userinfo(std::string text) {
  std::size_t from = 0;
  while ((from = text.find("://", from)) != std::string::npos) {
    const std::size_t start = from + 3;
    const std::size_t end = text.find_first_of("/?# \t\n'\"", start);
    const std::size_t authority_end = end == std::string::npos ? text.size() : end;
    const std::size_t at = text.rfind('@', authority_end);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = text.find(':', start);
      if (colon != std::string::npos && colon < at) {
        text.replace(colon + 1, at - colon - 1, "***");
        from = colon + 4;
        continue;
      }
    }
    from = start;
  }
  return text;
}

// Hides the value of every `password=value` (conninfo, quoted or not, and URI queries).
std::string redact_password_settings(std::string text) {
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t at = std::string::npos;
    for (std::size_t i = from; i < text.size(); ++i) {
      if (iequals(text, i, "password")) {
        at = i;
        break;
      }
    }
    if (at == std::string::npos) break;
    std::size_t i = at + 8;
    while (i < text.size() && is_blank(text[i])) ++i;
    if (i >= text.size() || text[i] != '=') {
      from = at + 8;
      continue;
    }
    ++i;
    while (i < text.size() && is_blank(text[i])) ++i;
    std::size_t end = i;
    if (end < text.size() && text[end] == '\'') {
      // The closing quote is one followed by a blank or the end (conninfo separates settings
      // with blanks), so that a quote inside, say of another password='...', does not end the
      // value early and leave the real one after it. Hiding too much is safe; too little not.
      ++end;
      while (end < text.size() &&
             !(text[end] == '\'' && (end + 1 == text.size() || is_blank(text[end + 1])))) {
        end += text[end] == '\\' ? 2u : 1u;
      }
      end = std::min(end + 1, text.size());
    } else {
      while (end < text.size() && !is_blank(text[end]) && text[end] != '&' && text[end] != '#') {
        ++end;
      }
    }
    text.replace(i, end - i, "***");
    from = i + 3;
  }
  return text;
}

}  // namespace

std::string redact_password(std::string_view text) {
  return redact_password_settings(redact_uri_userinfo(std::string(text)));
}

}  // namespace api_broker::store
