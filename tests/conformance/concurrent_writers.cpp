#include "conformance/concurrent_writers.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <latch>
#include <set>
#include <thread>

namespace api_broker::testing {

using namespace std::chrono_literals;
using events::EventId;
using events::NewEvent;
using store::EventStore;

void expect_writers_never_make_a_follower_skip(const StoreOpener& open_store) {
  constexpr int writers = 8;
  constexpr int per_writer = 120;  // in singles and batches of 4, alternately
  constexpr int followers = 3;
  constexpr std::size_t total = writers * per_writer;
  ASSERT_TRUE(open_store());  // the schema exists before anyone forks

  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::fflush(nullptr);
  std::vector<pid_t> children;
  for (int w = 0; w < writers; ++w) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(go[1]);
      char byte = 0;
      (void)::read(go[0], &byte, 1);  // returns at EOF: when the parent closes its end
      auto own = open_store();
      if (!own) _exit(2);
      int written = 0;
      for (int round = 0; written < per_writer; ++round) {
        std::vector<NewEvent> batch;
        const int size = round % 2 == 0 ? 1 : 4;
        for (int i = 0; i < size && written < per_writer; ++i, ++written) {
          batch.push_back(
              NewEvent{.event = events::Simple{std::to_string(w) + ":" + std::to_string(written)}});
        }
        if (!(*own)->append_batch(batch)) _exit(3);
      }
      _exit(0);
    }
    children.push_back(child);
  }
  ::close(go[0]);

  StopSignal stop;
  std::thread guard([&] {  // bounds the test if a follower never gets all events
    stop.wait_for(120s);
    stop.request_stop();
  });
  std::latch started(followers);
  std::vector<std::vector<std::uint64_t>> seen(followers);
  std::vector<std::string> errors(followers);
  std::vector<std::thread> threads;
  for (int f = 0; f < followers; ++f) {
    threads.emplace_back([&, f] {
      auto own = open_store();
      started.count_down();
      if (!own) {
        errors[static_cast<std::size_t>(f)] = own.error().message;
        return;
      }
      auto& ids = seen[static_cast<std::size_t>(f)];
      auto done = store::follow(
          **own, events::no_event, stop,
          [&](const events::Envelope& envelope) {
            ids.push_back(events::to_int(envelope.id));
            return ids.size() < total;
          },
          [](const Error&) { return false; });
      if (!done) errors[static_cast<std::size_t>(f)] = done.error().message;
    });
  }
  started.wait();
  ::close(go[1]);  // go
  for (const pid_t child : children) {
    int status = 0;
    EXPECT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
  }
  // All is committed: a follower that skipped an event would wait for it forever.
  std::thread finisher([&] {
    stop.wait_for(15s);
    stop.request_stop();
  });
  for (auto& t : threads) t.join();
  stop.request_stop();
  guard.join();
  finisher.join();

  auto opened = open_store();
  ASSERT_TRUE(opened) << opened.error().message;
  EventStore* reader = opened->get();
  std::vector<std::uint64_t> stored;
  std::set<std::string> messages;
  for (EventId after = events::no_event;;) {
    auto batch = reader->read_after(after, 500);
    ASSERT_TRUE(batch);
    if (batch->empty()) break;
    for (const auto& envelope : *batch) {
      stored.push_back(events::to_int(envelope.id));
      messages.insert(std::get<events::Simple>(envelope.event).message);
      after = envelope.id;
    }
  }
  ASSERT_EQ(stored.size(), total);
  EXPECT_EQ(messages.size(), total);  // every writer's every event, once
  for (int f = 0; f < followers; ++f) {
    const auto& ids = seen[static_cast<std::size_t>(f)];
    EXPECT_EQ(errors[static_cast<std::size_t>(f)], "");
    ASSERT_EQ(ids.size(), total) << "follower " << f;
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << "follower " << f;
    EXPECT_EQ(ids, stored) << "follower " << f;
  }
}

std::vector<std::string> open_concurrently(const StoreOpener& open_store, int openers) {
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<std::size_t>(openers));
  for (int i = 0; i < openers; ++i) {
    threads.emplace_back([&, i] {
      auto& error = errors[static_cast<std::size_t>(i)];
      auto store = open_store();
      if (!store) {
        error = store.error().message;
      } else if (auto id = (*store)->append(
                     NewEvent{.event = events::Simple{"from " + std::to_string(i)}});
                 !id) {
        error = "append failed: " + id.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return errors;
}

}  // namespace api_broker::testing
