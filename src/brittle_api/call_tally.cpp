#include "call_tally.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "text.hpp"

namespace api_broker::brittle_api::detail {

std::uint64_t CallTally::count_key(std::string_view key, bool& overflow) {
  if (key.empty()) return 0;
  if (key.size() > key_bytes_max) {
    overflow = true;
    return 0;
  }
  if (auto found = keys_.find(key); found != keys_.end()) return ++found->second;
  if (keys_.size() < keys_max) {
    keys_.emplace(std::string(key), 1);
    return 1;
  }
  overflow = true;
  return 0;
}

void CallTally::arrived(std::string_view key) {
  bool overflow = false;
  const std::uint64_t key_calls = count_key(key, overflow);
  const std::lock_guard lock(stats_mutex_);
  ++stats_.calls;
  ++stats_.in_flight;
  stats_.keys = keys_.size();
  stats_.max_calls_per_key = std::max(stats_.max_calls_per_key, key_calls);
  stats_.keys_overflow = stats_.keys_overflow || overflow;
}

void CallTally::finished(Outcome outcome) {
  const std::lock_guard lock(stats_mutex_);
  --stats_.in_flight;
  switch (outcome) {
    case Outcome::ok:
      ++stats_.succeeded;
      break;
    case Outcome::unavailable:
      ++stats_.failed;
      break;
    case Outcome::dropped:
      ++stats_.dropped;
      break;
    case Outcome::stale:
      ++stats_.stale;
      break;
  }
}

void CallTally::abandoned() {
  const std::lock_guard lock(stats_mutex_);
  --stats_.in_flight;
}

Stats CallTally::stats() const {
  const std::lock_guard lock(stats_mutex_);
  return stats_;
}

std::string CallTally::stats_json() const {
  const Stats stats = this->stats();
  return fmt::format(
      "{{\"calls\":{},\"succeeded\":{},\"failed\":{},\"dropped\":{},\"stale\":{},"
      "\"in_flight\":{},\"keys\":{},\"max_calls_per_key\":{},\"keys_overflow\":{}}}",
      stats.calls, stats.succeeded, stats.failed, stats.dropped, stats.stale, stats.in_flight,
      stats.keys, stats.max_calls_per_key, stats.keys_overflow);
}

std::string CallTally::keys_json() const {
  std::string json = "{";
  for (const auto& [key, calls] : keys_) {
    if (json.size() > 1) json.push_back(',');
    append_json_string(json, key);
    json += fmt::format(":{}", calls);
  }
  json.push_back('}');
  return json;
}

}  // namespace api_broker::brittle_api::detail
