#include "scheduler.hpp"

#include <algorithm>

namespace api_broker::sim {

Scheduler::Handle Scheduler::at(TimePoint at, Task task) {
  const Handle handle{std::max(at, now_), order_++};
  tasks_.emplace(handle, std::move(task));
  return handle;
}

bool Scheduler::run_next() {
  if (tasks_.empty()) return false;
  auto node = tasks_.extract(tasks_.begin());
  now_ = node.key().first;
  ++steps_;
  node.mapped()();
  return true;
}

}  // namespace api_broker::sim
