#include "toml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "api_broker/events/codec.hpp"

namespace api_broker::cli {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Reads the text left to right, one position; errors name the line of the position.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  Result<std::vector<TomlEntry>> read() {
    while (true) {
      skip_blank_lines();
      if (at_end()) return std::move(entries_);
      const std::size_t line = line_;
      if (peek() == '[') {
        if (auto table = read_table_header(); !table) return fail(std::move(table).error());
      } else {
        auto entry = read_key_value();
        if (!entry) return fail(std::move(entry).error());
        entry->line = line;
        entries_.push_back(std::move(*entry));
      }
      if (auto end = end_of_line(); !end) return fail(std::move(end).error());
    }
  }

 private:
  [[nodiscard]] bool at_end() const { return at_ >= text_.size(); }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[at_]; }
  void skip_spaces() {
    while (!at_end() && is_space(peek())) ++at_;
  }
  void skip_comment() {
    if (peek() != '#') return;
    while (!at_end() && peek() != '\n') ++at_;
  }
  void skip_newline() {
    if (peek() == '\r' && at_ + 1 < text_.size() && text_[at_ + 1] == '\n') ++at_;
    if (peek() == '\n') {
      ++at_;
      ++line_;
    }
  }
  void skip_blank_lines() {
    while (!at_end()) {
      skip_spaces();
      skip_comment();
      if (peek() != '\n' && peek() != '\r') return;
      const std::size_t before = at_;
      skip_newline();
      if (at_ == before) return;  // a lone \r
    }
  }

  // What follows on this line (at most 16 bytes), to quote in an error.
  [[nodiscard]] std::string_view rest_of_line() const {
    const std::string_view rest = text_.substr(at_, 16);
    return rest.substr(0, rest.find_first_of("\r\n"));
  }

  [[nodiscard]] Error error(std::string_view what) const {
    return Error{Errc::invalid_input, fmt::format("line {}: {}", line_, what)};
  }

  // After a table header or a value: spaces, a comment, then the end of the line.
  Result<void> end_of_line() {
    skip_spaces();
    skip_comment();
    if (at_end()) return {};
    const std::size_t before = at_;
    skip_newline();
    if (at_ != before) return {};
    return fail(error(fmt::format("unexpected '{}' after the value (one key = value a line)",
                                  events::printable(rest_of_line()))));
  }

  // A key: bare or quoted parts joined by dots.
  Result<std::vector<std::string>> read_key() {
    std::vector<std::string> parts;
    while (true) {
      skip_spaces();
      if (peek() == '"' || peek() == '\'') {
        auto part = read_string();
        if (!part) return fail(std::move(part).error());
        parts.push_back(std::move(*part));
      } else {
        const std::size_t start = at_;
        while (!at_end() && is_bare_key_char(peek())) ++at_;
        if (at_ == start) {
          return fail(
              error(fmt::format("expected a key, found '{}'", events::printable(rest_of_line()))));
        }
        parts.emplace_back(text_.substr(start, at_ - start));
      }
      skip_spaces();
      if (peek() != '.') return parts;
      ++at_;
    }
  }

  Result<void> read_table_header() {
    ++at_;  // [
    if (peek() == '[') return fail(error("arrays of tables ([[...]]) are not options"));
    auto key = read_key();
    if (!key) return fail(std::move(key).error());
    if (peek() != ']') return fail(error("a table header ends with ']'"));
    ++at_;
    if (!tables_.insert(*key).second) {
      return fail(error(fmt::format("table [{}] is given twice", fmt::join(*key, "."))));
    }
    table_ = std::move(*key);
    return {};
  }

  Result<TomlEntry> read_key_value() {
    auto key = read_key();
    if (!key) return fail(std::move(key).error());
    if (peek() != '=') {
      return fail(error(fmt::format("expected '=' after the key '{}'",
                                    events::printable(fmt::format("{}", fmt::join(*key, "."))))));
    }
    ++at_;
    skip_spaces();
    TomlEntry entry;
    entry.table = table_;
    entry.table.insert(entry.table.end(), key->begin(), key->end() - 1);
    entry.key = key->back();
    std::vector<std::string> full = entry.table;
    full.push_back(entry.key);
    if (const auto [it, added] = keys_.emplace(full, line_); !added) {
      return fail(error(fmt::format("key '{}' is given twice (first on line {})",
                                    events::printable(entry.key), it->second)));
    }
    if (peek() == '[') {
      ++at_;
      entry.is_array = true;
      while (true) {
        skip_blank_lines();
        if (peek() == ']') break;
        auto value = read_scalar();
        if (!value) return fail(std::move(value).error());
        entry.values.push_back(std::move(value->first));
        skip_blank_lines();
        if (peek() == ',') {
          ++at_;
          continue;
        }
        if (peek() != ']') return fail(error("an array's values are separated by ','"));
      }
      ++at_;
      return entry;
    }
    auto value = read_scalar();
    if (!value) return fail(std::move(value).error());
    entry.values.push_back(std::move(value->first));
    entry.is_boolean = value->second;
    return entry;
  }

  // A string, number or boolean; second: whether it is a boolean.
  Result<std::pair<std::string, bool>> read_scalar() {
    if (peek() == '"' || peek() == '\'') {
      auto text = read_string();
      if (!text) return fail(std::move(text).error());
      return std::pair{std::move(*text), false};
    }
    if (peek() == '[') return fail(error("arrays in arrays are not options"));
    if (peek() == '{') return fail(error("inline tables are not options"));
    const std::size_t start = at_;
    while (!at_end() && (is_bare_key_char(peek()) || peek() == '.' || peek() == '+')) ++at_;
    const std::string_view word = text_.substr(start, at_ - start);
    if (word == "true" || word == "false") return std::pair{std::string(word), true};
    if (is_number(word)) {
      std::string number(word);
      std::erase(number, '_');
      return std::pair{std::move(number), false};
    }
    if (word.empty()) {
      return fail(
          error(fmt::format("expected a value, found '{}'", events::printable(rest_of_line()))));
    }
    return fail(error(
        fmt::format("'{}' is not a value: a string needs quotes; true, false and numbers do not",
                    events::printable(word))));
  }

  static bool is_number(std::string_view word) {
    std::size_t i = 0;
    if (i < word.size() && (word[i] == '+' || word[i] == '-')) ++i;
    if (i >= word.size() || word[i] < '0' || word[i] > '9') return false;
    bool exponent = false;
    for (; i < word.size(); ++i) {
      const char c = word[i];
      if ((c >= '0' && c <= '9') || c == '_' || (c == '.' && !exponent)) continue;
      if ((c == 'e' || c == 'E') && !exponent) {
        exponent = true;
        if (i + 1 < word.size() && (word[i + 1] == '+' || word[i + 1] == '-')) ++i;
        continue;
      }
      return false;
    }
    return true;
  }

  Result<std::string> read_string() {
    const char quote = peek();
    if (text_.substr(at_, 3) == std::string(3, quote)) {
      return fail(error("multi-line strings are not supported: write the value on one line"));
    }
    ++at_;
    std::string out;
    while (true) {
      if (at_end() || peek() == '\n' || peek() == '\r') {
        return fail(error("a string is not closed on its line"));
      }
      const char c = text_[at_++];
      if (c == quote) return out;
      if (c != '\\' || quote == '\'') {
        out.push_back(c);
        continue;
      }
      if (auto escaped = read_escape(out); !escaped) return fail(std::move(escaped).error());
    }
  }

  Result<void> read_escape(std::string& out) {
    const char c = peek();
    ++at_;
    switch (c) {
      case '"':
        out.push_back('"');
        return {};
      case '\\':
        out.push_back('\\');
        return {};
      case 'b':
        out.push_back('\b');
        return {};
      case 'f':
        out.push_back('\f');
        return {};
      case 'n':
        out.push_back('\n');
        return {};
      case 'r':
        out.push_back('\r');
        return {};
      case 't':
        out.push_back('\t');
        return {};
      case 'u':
      case 'U':
        return read_unicode_escape(c == 'u' ? 4 : 8, out);
      default:
        return fail(error(fmt::format("unknown escape '\\{}' in a string",
                                      events::printable(std::string_view(&c, 1)))));
    }
  }

  Result<void> read_unicode_escape(std::size_t digits, std::string& out) {
    std::uint32_t code = 0;
    for (std::size_t i = 0; i < digits; ++i, ++at_) {
      const char c = peek();
      int digit = -1;
      if (c >= '0' && c <= '9') digit = c - '0';
      if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) return fail(error("a \\u escape takes hex digits"));
      code = code * 16 + static_cast<std::uint32_t>(digit);
    }
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return fail(error("a \\u escape names no Unicode character"));
    }
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
    return {};
  }

  std::string_view text_;
  std::size_t at_ = 0;
  std::size_t line_ = 1;
  std::vector<std::string> table_;
  std::set<std::vector<std::string>> tables_;
  std::map<std::vector<std::string>, std::size_t> keys_;
  std::vector<TomlEntry> entries_;
};

}  // namespace

Result<std::vector<TomlEntry>> read_toml(std::string_view text) { return Reader(text).read(); }

}  // namespace api_broker::cli
