#include "text_arena.hpp"

#include <cstring>

#include "api_broker/assert.hpp"

namespace api_broker::view {

TextRef TextArena::add(std::string_view text) {
  API_BROKER_ASSERT(text.size() <= text_bytes_max);
  if (text.empty()) return {};
  if (chunk_bytes - used_ < text.size()) {
    if (chunks_.size() == chunks_max) return {};  // 4 GiB of text: later texts read as ""
    chunks_.push_back(std::make_unique<char[]>(chunk_bytes));
    used_ = 0;
  }
  const std::size_t chunk = chunks_.size() - 1;
  std::memcpy(chunks_.back().get() + used_, text.data(), text.size());
  const TextRef ref{static_cast<std::uint32_t>(chunk * chunk_bytes + used_),
                    static_cast<std::uint32_t>(text.size())};
  used_ += text.size();
  return ref;
}

TextRef TextArena::intern(std::string_view text) {
  if (text.size() > interned_bytes_max) return add(text);
  if (const auto it = interned_.find(text); it != interned_.end()) return it->second;
  const TextRef ref = add(text);
  if (interned_.size() < interned_max) interned_.emplace(get(ref), ref);
  return ref;
}

std::string_view TextArena::get(TextRef ref) const {
  if (ref.size == 0) return {};
  return {chunks_[ref.offset / chunk_bytes].get() + ref.offset % chunk_bytes, ref.size};
}

std::size_t TextArena::memory_bytes() const {
  // A node of the interned map: the key, the value, a hash and a link, about 48 bytes.
  return chunks_.size() * chunk_bytes + interned_.size() * 48 +
         interned_.bucket_count() * sizeof(void*);
}

}  // namespace api_broker::view
