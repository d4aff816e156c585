// The --config file reader (src/cli/toml_reader.*) on any bytes: it returns entries or a
// one-line "line N: ..." error, never crashes or hangs; every entry's line is within the text,
// and only an array holds other than one value.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api_broker/assert.hpp"
#include "toml_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto entries = api_broker::cli::read_toml(text);
  if (!entries) {
    API_BROKER_ASSERT(entries.error().message.rfind("line ", 0) == 0);
    // One line: printable() escapes what it quotes.
    API_BROKER_ASSERT(entries.error().message.find('\n') == std::string::npos);
    return 0;
  }
  std::size_t lines = 1;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  for (const auto& entry : *entries) {
    API_BROKER_ASSERT(entry.line >= 1 && entry.line <= lines);
    API_BROKER_ASSERT(entry.is_array || entry.values.size() == 1);
  }
  return 0;
}
