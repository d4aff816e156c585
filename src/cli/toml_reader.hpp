#pragma once
// The part of TOML a file of options needs, read strictly with line numbers: comments,
// [tables] and [dotted.tables], `key = value` (bare, quoted or dotted keys) where a value is a
// string ("basic" with escapes, or 'literal'), an integer or float, true / false, or an array
// of those (it may span lines). Anything else (inline tables, arrays of tables, multi-line
// strings, dates) is refused with its line, as is a key or a table given twice. Pure: no I/O.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/result.hpp"

namespace api_broker::cli {

struct TomlEntry {
  std::vector<std::string> table;   // [serve] -> {"serve"}; top level: empty
  std::string key;                  // the last part of a dotted key (the rest joins `table`)
  std::vector<std::string> values;  // a scalar: one; an array: each element
  bool is_array = false;
  bool is_boolean = false;  // true / false (a scalar)
  std::size_t line = 0;     // 1-based, where the key is
};

// The entries of `text` in file order, or invalid_input "line N: what is wrong".
Result<std::vector<TomlEntry>> read_toml(std::string_view text);

}  // namespace api_broker::cli
