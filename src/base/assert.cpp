#include "api_broker/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace api_broker {

void assert_failed(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "api-broker: internal error: assertion failed: %s (%s:%d)\n", condition,
               file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace api_broker
