#pragma once
// Simulated time: a queue of tasks ordered by (time, order of scheduling). run_next() jumps
// the clock to the next task and runs it, so a run of simulated hours takes milliseconds and
// ties are broken the same way every time. A background task (a lease renewal, a standby's
// poll) runs like any other but does not keep a run going: busy() counts only the others.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "api_broker/time.hpp"

namespace api_broker::sim {

class Scheduler {
 public:
  using Task = std::function<void()>;
  using Handle = std::pair<TimePoint, std::uint64_t>;

  explicit Scheduler(TimePoint start) : now_(start) {}

  [[nodiscard]] TimePoint now() const { return now_; }
  // Runs `task` at `at` (at once if `at` has passed, after the tasks already due).
  Handle at(TimePoint at, Task task, bool background = false);
  Handle after(Duration delay, Task task) { return at(now_ + delay, std::move(task)); }
  // No effect if the task ran or was cancelled.
  void cancel(const Handle& handle) {
    tasks_.erase(handle);
    background_.erase(handle);
  }
  // Runs the next task, background or not; false when there is none.
  bool run_next();
  [[nodiscard]] bool empty() const { return tasks_.empty(); }
  // Whether a task other than a background one is waiting.
  [[nodiscard]] bool busy() const { return tasks_.size() > background_.size(); }
  [[nodiscard]] std::uint64_t steps() const { return steps_; }

 private:
  TimePoint now_;
  std::uint64_t order_ = 0;
  std::uint64_t steps_ = 0;
  std::map<Handle, Task> tasks_;
  std::set<Handle> background_;  // those of tasks_ that are background tasks
};

}  // namespace api_broker::sim
