#pragma once
// The brittle API's counts of POST /api calls: the Stats, and the calls per Idempotency-Key
// (bounded by keys_max and key_bytes_max), with their JSON for GET /stats and /stats/keys.

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "fault_plan.hpp"

namespace api_broker::brittle_api::detail {

// Thread safety: stats() may be called from any thread; every other method runs on the
// server's loop thread only.
class CallTally {
 public:
  // A call arrived with `key` (empty: none): it is counted and in flight.
  void arrived(std::string_view key);
  // A call in flight got its `outcome`.
  void finished(Outcome outcome);
  // A call in flight was abandoned by stop(): it stays counted in `calls` only.
  void abandoned();

  Stats stats() const;
  // {"calls":N,...}: the Stats as GET /stats answers them.
  std::string stats_json() const;
  // {"<key>":calls,...}: loop thread only.
  std::string keys_json() const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };

  // Counts one more call of `key`; 0 when the key is not counted.
  std::uint64_t count_key(std::string_view key, bool& overflow);

  // Used only on the loop's thread.
  std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>> keys_;

  mutable std::mutex stats_mutex_;
  Stats stats_;
};

}  // namespace api_broker::brittle_api::detail
