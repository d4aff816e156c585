#include "api_broker/thread_name.hpp"

#include <pthread.h>

#include <cstring>

namespace api_broker {

void name_this_thread(const char* name) noexcept {
  char cut[16] = {};  // the kernel's limit: 15 bytes and the terminator
  std::strncpy(cut, name, sizeof cut - 1);
  (void)pthread_setname_np(pthread_self(), cut);
}

}  // namespace api_broker
