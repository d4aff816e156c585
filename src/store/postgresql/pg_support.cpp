#include "postgresql/pg_support.hpp"

#include <cctype>
#include <limits>

#include "api_broker/assert.hpp"
#include "api_broker/store/postgres_store.hpp"

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
        end += text[end] == '\\' ? 2 : 1;
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

namespace pg {

std::string one_line(std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && is_blank(part.front())) part.remove_prefix(1);
    while (!part.empty() && is_blank(part.back())) part.remove_suffix(1);
    if (!part.empty()) {
      if (!line.empty()) line += "; ";
      bool blank = false;
      for (char c : part) {
        if (is_blank(c)) {
          blank = true;
          continue;
        }
        if (blank) line += ' ';
        blank = false;
        line += c;
      }
    }
    start = end + 1;
  }
  return redact_password(line);
}

std::string int8_bytes(std::int64_t value) {
  const auto bits = static_cast<std::uint64_t>(value);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(bits >> (56 - 8 * i));
  return bytes;
}

std::string timestamptz_bytes(std::int64_t unix_micros) {
  constexpr std::int64_t unix_micros_at_2000 = 946'684'800'000'000;
  return int8_bytes(unix_micros - unix_micros_at_2000);
}

std::string without_nul_escapes(std::string json) {
  std::size_t at = 0;
  while ((at = json.find('\\', at)) != std::string::npos) {
    if (json.compare(at, 6, "\\u0000") == 0) {
      json.replace(at + 2, 4, "fffd");
      at += 6;
    } else {
      at += 2;  // an escaped character, possibly a backslash: never the start of an escape
    }
  }
  return json;
}

BinaryArray::BinaryArray(Oid element_type, std::size_t count) : count_(count) {
  API_BROKER_ASSERT(count <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(1);  // dimensions
  add_length(0);  // flags: 1 once a NULL is added
  add_length(static_cast<std::int32_t>(element_type));
  add_length(static_cast<std::int32_t>(count));  // elements in the dimension
  add_length(1);                                 // its lower bound
}

void BinaryArray::add(std::string_view element) {
  API_BROKER_ASSERT(added_ < count_);
  API_BROKER_ASSERT(element.size() <=
                    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(static_cast<std::int32_t>(element.size()));
  bytes_.append(element);
  ++added_;
}

void BinaryArray::add_null() {
  API_BROKER_ASSERT(added_ < count_);
  bytes_[7] = 1;  // the low byte of the flags
  add_length(-1);
  ++added_;
}

void BinaryArray::add_jsonb(std::string_view json) {
  API_BROKER_ASSERT(added_ < count_);
  API_BROKER_ASSERT(json.size() <
                    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  add_length(static_cast<std::int32_t>(json.size() + 1));
  bytes_ += '\1';
  bytes_.append(json);
  ++added_;
}

const std::string& BinaryArray::bytes() const {
  API_BROKER_ASSERT(added_ == count_);
  return bytes_;
}

void BinaryArray::add_length(std::int32_t length) {
  const auto bits = static_cast<std::uint32_t>(length);
  for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>(bits >> (24 - 8 * i));
}

}  // namespace pg
}  // namespace api_broker::store
