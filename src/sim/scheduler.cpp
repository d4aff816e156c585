#include "scheduler.hpp"

#include <algorithm>

#include "api_broker/assert.hpp"

namespace api_broker::sim {

Scheduler::Handle Scheduler::at(TimePoint at, Task task, bool background) {
  const Handle handle{std::max(at, now_), order_++};
  tasks_.emplace(handle, std::move(task));
  if (background) background_.insert(handle);
  return handle;
}

bool Scheduler::run_next() {
  if (tasks_.empty()) return false;
  auto node = tasks_.extract(tasks_.begin());
  API_BROKER_ASSERT(node.key().first >= now_);  // simulated time never goes back
  now_ = node.key().first;
  background_.erase(node.key());
  API_BROKER_ASSERT(background_.size() <= tasks_.size());
  ++steps_;
  node.mapped()();
  return true;
}

}  // namespace api_broker::sim
