// Simulated time: tasks run in time order, ties in the order they were scheduled, and the
// clock jumps to each task's time.

#include "scheduler.hpp"

#include <gtest/gtest.h>

#include <string>

namespace api_broker::sim {
namespace {

using namespace std::chrono_literals;

const TimePoint t0{std::chrono::seconds(1'800'000'000)};

TEST(Scheduler, RunsTasksInTimeOrderAndTiesInSchedulingOrder) {
  Scheduler scheduler(t0);
  std::string order;
  scheduler.at(t0 + 2s, [&] { order += "c"; });
  scheduler.at(t0 + 1s, [&] { order += "a"; });
  scheduler.at(t0 + 1s, [&] { order += "b"; });
  while (scheduler.run_next()) {
  }
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(scheduler.now(), t0 + 2s);
  EXPECT_EQ(scheduler.steps(), 3u);
}

TEST(Scheduler, ATaskInThePastRunsNowAfterThoseAlreadyDue) {
  Scheduler scheduler(t0);
  std::string order;
  scheduler.at(t0 + 1s, [&] {
    order += "a";
    scheduler.at(t0, [&] {
      order += "c";
      EXPECT_EQ(scheduler.now(), t0 + 1s);
    });
  });
  scheduler.at(t0 + 1s, [&] { order += "b"; });
  while (scheduler.run_next()) {
  }
  EXPECT_EQ(order, "abc");
}

TEST(Scheduler, ACancelledTaskDoesNotRun) {
  Scheduler scheduler(t0);
  bool ran = false;
  const auto handle = scheduler.after(1s, [&] { ran = true; });
  scheduler.cancel(handle);
  EXPECT_TRUE(scheduler.empty());
  EXPECT_FALSE(scheduler.run_next());
  EXPECT_FALSE(ran);
}

TEST(Scheduler, BackgroundTasksRunButDoNotKeepItBusy) {
  Scheduler scheduler(t0);
  std::string order;
  const auto renewal = scheduler.at(
      t0 + 1s, [&] { order += "r"; }, true);
  EXPECT_FALSE(scheduler.busy());
  scheduler.at(t0 + 2s, [&] { order += "w"; });
  EXPECT_TRUE(scheduler.busy());
  EXPECT_TRUE(scheduler.run_next());  // the background task, first in time
  EXPECT_EQ(order, "r");
  EXPECT_TRUE(scheduler.busy());
  EXPECT_TRUE(scheduler.run_next());
  EXPECT_FALSE(scheduler.busy());
  scheduler.at(
      t0 + 3s, [&] { order += "x"; }, true);
  scheduler.cancel(renewal);  // ran already: no effect
  EXPECT_FALSE(scheduler.busy());
  EXPECT_FALSE(scheduler.empty());
  EXPECT_EQ(order, "rw");
}

}  // namespace
}  // namespace api_broker::sim
