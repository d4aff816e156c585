#pragma once
// Assertions are on in every build: they state what the code relies on, and a broken
// invariant stops the process before it writes a wrong event. Never assert on input
// (the log, the CLI, the network): validate it and return an Error.

namespace api_broker {
[[noreturn]] void assert_failed(const char* condition, const char* file, int line) noexcept;
}  // namespace api_broker

// __FILE__/__LINE__: clang 14 with libstdc++ 12 has no std::source_location.
#define API_BROKER_ASSERT(cond) \
  ((cond) ? void(0) : ::api_broker::assert_failed(#cond, __FILE__, __LINE__))
