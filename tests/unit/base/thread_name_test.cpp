// name_this_thread: the name the kernel shows for the thread, cut to its 15 bytes.

#include "api_broker/thread_name.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace api_broker {
namespace {

std::string name_of(pthread_t thread) {
  char name[16] = {};
  EXPECT_EQ(pthread_getname_np(thread, name, sizeof name), 0);
  return name;
}

TEST(ThreadName, NamesTheCallingThreadAndCutsLongNames) {
  std::string short_name;
  std::string long_name;
  std::thread([&] {
    name_this_thread("ab-view");
    short_name = name_of(pthread_self());
    name_this_thread("a-name-longer-than-fifteen-bytes");
    long_name = name_of(pthread_self());
  }).join();
  EXPECT_EQ(short_name, "ab-view");
  EXPECT_EQ(long_name, "a-name-longer-t");
}

}  // namespace
}  // namespace api_broker
