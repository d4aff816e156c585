#pragma once
// The texts the read model keeps (bodies, destinations, reasons, excerpts), packed in 1 MiB
// chunks that never move, each named by a small TextRef. Short texts that repeat (a reason,
// a method, "POST <api-url>/api") are stored once, up to a bound on the distinct ones kept.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace api_broker::view {

struct TextRef {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

class TextArena {
 public:
  // REQUIRES: text.size() <= text_bytes_max (callers cut first). Beyond 4 GiB of text in all
  // (chunks_max), a text is not kept and reads as "".
  [[nodiscard]] TextRef add(std::string_view text);
  // As add(), stored once if it is short and already known.
  [[nodiscard]] TextRef intern(std::string_view text);
  [[nodiscard]] std::string_view get(TextRef ref) const;
  [[nodiscard]] std::size_t memory_bytes() const;

  static constexpr std::size_t chunk_bytes = std::size_t{1} << 20U;
  static constexpr std::size_t chunks_max = 4096;  // offsets are 32 bits
  static constexpr std::size_t text_bytes_max = 4096;
  static constexpr std::size_t interned_bytes_max = 64;
  static constexpr std::size_t interned_max = 65536;

 private:
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::size_t used_ = chunk_bytes;  // in the newest chunk
  std::unordered_map<std::string_view, TextRef> interned_;
};

}  // namespace api_broker::view
