#pragma once
// Runs the real binaries from tests: to completion (with a time bound, so a hang fails the
// test instead of blocking CI), or in the background to be killed.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace api_broker::testing {

struct Output {
  int exit_code = -1;  // -1: killed by a signal or by the time bound
  bool timed_out = false;
  std::string out;
  std::string err;
};

// The api-broker binary under test ($API_BROKER_BIN, set by CTest).
std::string api_broker_bin();

// Runs argv[0] with arguments; `env` entries ("NAME=value") are added to the environment.
Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
           std::chrono::seconds bound = std::chrono::seconds(60));
// Runs api-broker with the arguments.
Output api_broker(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                  std::chrono::seconds bound = std::chrono::seconds(60));

// A background process; its stdout and stderr go to files. Killed (SIGKILL) on destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& out_path,
        const std::string& err_path, const std::vector<std::string>& env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit up to `bound`; returns the exit code, -1 for a signal, -2 when still running.
  int wait(std::chrono::milliseconds bound);
  bool running();

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

std::string read_file(const std::string& path);

// How many times `what` occurs in `text` (overlapping ones too).
std::uint64_t count_in(const std::string& text, const std::string& what);

}  // namespace api_broker::testing
