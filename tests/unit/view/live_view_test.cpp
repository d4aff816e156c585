// LiveView on every store backend (PostgreSQL and MongoDB skip unless configured): it rebuilds
// the view from the log at start, follows a writer in another thread, and wakes wait_until().

#include "api_broker/view/live_view.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "api_broker/store/forwarding_store.hpp"
#include "api_broker/store/memory_store.hpp"
#include "conformance/store_backends.hpp"
#include "view_log.hpp"

namespace api_broker::view {
namespace {

using namespace std::chrono_literals;
using api_broker::testing::Backend;
using events::EventId;
using events::NewEvent;
using testing::uuid;

// Appends a request and its first attempt's success; returns the request's id.
EventId append_succeeded(store::EventStore& store, std::optional<events::Uuid> external = {}) {
  const auto r =
      store.append(NewEvent{.event = events::Request{"ping"}, .external_uuid = external});
  EXPECT_TRUE(r) << r.error().message;
  const std::vector<NewEvent> rest{
      {.event = events::ApiRequest{.attempt = 0}, .causation_id = *r},
      {.event = events::ApiResponse{.attempt = 0, .response = "ok"}, .causation_id = *r},
      {.event = events::RequestSucceeded{.attempts = 1}, .causation_id = *r}};
  EXPECT_TRUE(store.append_batch(rest));
  return *r;
}

class LiveViewOnStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    fixture_ = GetParam().make();
    if (auto reason = fixture_->unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << GetParam().name << " skipped: " << reason;
    }
    auto opened = fixture_->open();
    ASSERT_TRUE(opened) << opened.error().message;
    writer_ = std::move(*opened);
  }
  StoreOpener opener() {
    return [this] { return fixture_->open(); };
  }

  std::unique_ptr<api_broker::testing::StoreFixture> fixture_;
  std::unique_ptr<store::EventStore> writer_;
};

TEST_P(LiveViewOnStore, RebuildsTheLogAtStartThenIsCaughtUp) {
  std::vector<EventId> requests;
  for (int i = 0; i < 600; ++i) requests.push_back(append_succeeded(*writer_));  // > a read batch
  const auto last = writer_->last_id();
  ASSERT_TRUE(last);
  LiveView live(opener());
  StopSignal stop;
  EXPECT_TRUE(live.wait_until([&](const RequestView& v) { return v.last_applied() == *last; },
                              utc_now() + 60s, stop));
  live.read([&](const RequestView& v) {
    EXPECT_EQ(v.counts(), (Counts{.succeeded = requests.size()}));
    EXPECT_EQ(v.list({.limit = 1}).items.at(0).id, requests.front());
  });
  for (int i = 0; i < 600 && !live.caught_up(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(live.caught_up());
}

TEST_P(LiveViewOnStore, WaitUntilWakesWhenAWriterAppends) {
  LiveView live(opener());
  StopSignal stop;
  // An empty log: caught up once read.
  for (int i = 0; i < 600 && !live.caught_up(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(live.caught_up());
  auto second = fixture_->open();
  ASSERT_TRUE(second);
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    append_succeeded(**second, uuid(7));
  });
  const bool found = live.wait_until(
      [&](const RequestView& v) {
        const auto id = v.find(uuid(7));
        return id && v.summary(*id)->phase == core::Phase::succeeded;
      },
      utc_now() + 60s, stop);
  writer.join();
  EXPECT_TRUE(found);
}

TEST_P(LiveViewOnStore, WaitUntilReturnsFalseAtTheDeadlineOrStop) {
  LiveView live(opener());
  StopSignal stop;
  const auto never = [](const RequestView&) { return false; };
  EXPECT_FALSE(live.wait_until(never, utc_now() + 100ms, stop));
  stop.request_stop();
  EXPECT_FALSE(live.wait_until(never, utc_now() + 600s, stop));  // returns at once
  live.stop();
  StopSignal other;
  EXPECT_FALSE(live.wait_until(never, utc_now() + 600s, other));  // the view stopped
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveViewOnStore,
                         ::testing::ValuesIn(api_broker::testing::backends()),
                         [](const auto& backend) { return backend.param.name; });

// A store whose read of one row fails as corrupt, as a row that does not decode does.
class OneCorruptRow : public store::ForwardingStore {
 public:
  OneCorruptRow(std::unique_ptr<store::EventStore> inner, EventId corrupt)
      : ForwardingStore(*inner), inner_(std::move(inner)), corrupt_(corrupt) {}
  Result<std::vector<events::Envelope>> read_after(EventId after, std::size_t limit) override {
    auto batch = ForwardingStore::read_after(after, limit);
    if (!batch) return batch;
    std::vector<events::Envelope> before;
    for (auto& e : *batch) {
      if (e.id == corrupt_) {
        if (before.empty()) {
          return fail(Errc::corrupt, "row does not decode", events::to_int(corrupt_));
        }
        break;
      }
      before.push_back(std::move(e));
    }
    return before;
  }

 private:
  std::unique_ptr<store::EventStore> inner_;
  EventId corrupt_;
};

TEST(LiveView, ACorruptRowIsReportedAndSkipped) {
  auto log = std::make_shared<store::MemoryLog>();
  store::MemoryStore writer(log);
  append_succeeded(writer);
  const auto corrupt = writer.append(NewEvent{.event = events::Simple{"unreadable"}});
  ASSERT_TRUE(corrupt);
  const EventId second = append_succeeded(writer);
  std::mutex mutex;
  std::vector<std::string> errors;
  LiveView live(
      [&]() -> Result<std::unique_ptr<store::EventStore>> {
        return std::unique_ptr<store::EventStore>(
            std::make_unique<OneCorruptRow>(std::make_unique<store::MemoryStore>(log), *corrupt));
      },
      LiveViewOptions{.on_error = [&](const Error& e) {
        const std::lock_guard lock(mutex);
        errors.push_back(e.message);
      }});
  StopSignal stop;
  EXPECT_TRUE(live.wait_until(
      [&](const RequestView& v) { return v.counts().succeeded == 2 && v.summary(second); },
      utc_now() + 60s, stop));
  live.stop();
  const std::lock_guard lock(mutex);
  EXPECT_EQ(errors, (std::vector<std::string>{"row does not decode"}));
}

TEST(LiveView, AStoreThatCannotOpenIsReportedAndRetried) {
  auto log = std::make_shared<store::MemoryLog>();
  store::MemoryStore writer(log);
  append_succeeded(writer);
  std::atomic<int> opens{0};
  std::atomic<int> errors{0};
  LiveView live(
      [&]() -> Result<std::unique_ptr<store::EventStore>> {
        if (opens++ < 2) return fail(Errc::unavailable, "down");
        return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log));
      },
      LiveViewOptions{.reopen_delay = 10ms, .on_error = [&](const Error&) { ++errors; }});
  StopSignal stop;
  EXPECT_TRUE(live.wait_until([](const RequestView& v) { return v.counts().succeeded == 1; },
                              utc_now() + 60s, stop));
  EXPECT_EQ(errors.load(), 2);
}

// on_applied sees each event the view applied, once and in order, also across a store that
// had to be opened again; the service's metrics ride on it.
TEST(LiveView, HandsEachAppliedEventOnOnceInOrder) {
  auto log = std::make_shared<store::MemoryLog>();
  store::MemoryStore writer(log);
  append_succeeded(writer);
  std::atomic<int> opens{0};
  std::mutex mutex;
  std::vector<std::uint64_t> seen;
  LiveView live(
      [&]() -> Result<std::unique_ptr<store::EventStore>> {
        if (opens++ == 0) return fail(Errc::unavailable, "down");
        return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log));
      },
      LiveViewOptions{.reopen_delay = 10ms,
                      .on_applied = [&](std::span<const events::Envelope> batch) {
                        const std::lock_guard lock(mutex);
                        for (const auto& e : batch) seen.push_back(events::to_int(e.id));
                      }});
  StopSignal stop;
  ASSERT_TRUE(live.wait_until([](const RequestView& v) { return v.counts().succeeded == 1; },
                              utc_now() + 60s, stop));
  for (int i = 0; i < 300; ++i) append_succeeded(writer);
  const auto last = writer.last_id();
  ASSERT_TRUE(last);
  ASSERT_TRUE(live.wait_until([&](const RequestView& v) { return v.last_applied() == *last; },
                              utc_now() + 60s, stop));
  live.stop();  // joins the follower: every on_applied call has returned
  const std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), events::to_int(*last));
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

}  // namespace
}  // namespace api_broker::view
