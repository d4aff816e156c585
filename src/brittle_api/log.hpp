#pragma once
// Diagnostics of the brittle API go to stderr, one line each, and never throw: they are
// written from destructors and from the event loop.

#include <cstdio>
#include <string_view>

namespace api_broker::brittle_api::detail {

inline void log_line(std::string_view line) noexcept {
  std::fprintf(stderr, "brittle-api: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace api_broker::brittle_api::detail
