// The EventStore contract, checked the same way for every backend in store_backends.cpp.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/store/sqlite_store.hpp"
#include "conformance/concurrent_writers.hpp"
#include "conformance/store_backends.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;
using events::EventId;
using events::NewEvent;
using store::EventStore;

NewEvent simple(std::string message) {
  return NewEvent{.event = events::Simple{std::move(message)}};
}

events::Uuid uuid(const char* text) { return *events::parse_uuid(text); }

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    fixture_ = GetParam().make();
    if (auto reason = fixture_->unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << GetParam().name << " skipped: " << reason;
    }
    store_ = open();
  }
  std::unique_ptr<EventStore> open() {
    auto store = fixture_->open();
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  std::unique_ptr<StoreFixture> fixture_;
  std::unique_ptr<EventStore> store_;
};

TEST_P(StoreConformance, AppendThenGetReturnsTheSameEnvelope) {
  const auto before = utc_now();
  auto id = store_->append(NewEvent{.event = events::Request{"ping"},
                                    .causation_id = EventId{0},
                                    .external_uuid = uuid("123e4567-e89b-12d3-a456-426614174000")});
  ASSERT_TRUE(id) << id.error().message;
  auto envelope = store_->get(*id);
  ASSERT_TRUE(envelope) << envelope.error().message;
  EXPECT_EQ(envelope->id, *id);
  EXPECT_EQ(envelope->event, events::Event{events::Request{"ping"}});
  EXPECT_EQ(envelope->external_uuid, uuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_GE(envelope->created, before - 1s);
  EXPECT_LE(envelope->created, utc_now() + 1s);
}

TEST_P(StoreConformance, IdsIncreaseAndCausationIsKept) {
  auto first = store_->append(simple("a"));
  ASSERT_TRUE(first);
  auto second = store_->append(NewEvent{.event = events::ApiRequest{0}, .causation_id = *first});
  ASSERT_TRUE(second);
  EXPECT_GT(events::to_int(*second), events::to_int(*first));
  EXPECT_EQ(store_->get(*second)->causation_id, *first);
  EXPECT_EQ(*store_->last_id(), *second);
}

TEST_P(StoreConformance, GetOfAMissingIdIsNotFound) {
  auto missing = store_->get(EventId{999});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(*store_->last_id(), events::no_event);
}

TEST_P(StoreConformance, ResolveFindsTheExternalUuid) {
  ASSERT_TRUE(store_->append(simple("a")));
  auto id = store_->append(NewEvent{.event = events::Simple{"b"},
                                    .external_uuid = uuid("00000000-0000-4000-8000-000000000001")});
  ASSERT_TRUE(id);
  EXPECT_EQ(*store_->resolve(uuid("00000000-0000-4000-8000-000000000001")), *id);
  auto missing = store_->resolve(uuid("00000000-0000-4000-8000-000000000002"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_P(StoreConformance, DuplicateUuidFailsWithTheExistingIdAndStoresNothing) {
  const auto u = uuid("00000000-0000-4000-8000-0000000000aa");
  auto first = store_->append(NewEvent{.event = events::Simple{"a"}, .external_uuid = u});
  ASSERT_TRUE(first);
  auto second = store_->append(NewEvent{.event = events::Simple{"b"}, .external_uuid = u});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::duplicate);
  EXPECT_EQ(second.error().related_id, events::to_int(*first));
  EXPECT_EQ(*store_->last_id(), *first);
}

TEST_P(StoreConformance, BatchIsAtomic) {
  const auto u = uuid("00000000-0000-4000-8000-0000000000bb");
  ASSERT_TRUE(store_->append(NewEvent{.event = events::Simple{"taken"}, .external_uuid = u}));
  const std::vector<NewEvent> batch = {simple("1"), simple("2"),
                                       NewEvent{.event = events::Simple{"3"}, .external_uuid = u}};
  auto failed = store_->append_batch(batch);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::duplicate);
  EXPECT_EQ(events::to_int(*store_->last_id()), 1u);

  const std::vector<NewEvent> good = {simple("1"), simple("2"), simple("3")};
  auto ids = store_->append_batch(good);
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_LT(events::to_int((*ids)[0]), events::to_int((*ids)[1]));
  EXPECT_LT(events::to_int((*ids)[1]), events::to_int((*ids)[2]));
  EXPECT_EQ(std::get<events::Simple>(store_->get((*ids)[2])->event).message, "3");
}

TEST_P(StoreConformance, DuplicateUuidWithinOneBatchFailsTheBatch) {
  const auto u = uuid("00000000-0000-4000-8000-0000000000cc");
  const std::vector<NewEvent> batch = {NewEvent{.event = events::Simple{"1"}, .external_uuid = u},
                                       NewEvent{.event = events::Simple{"2"}, .external_uuid = u}};
  auto failed = store_->append_batch(batch);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::duplicate);
  EXPECT_EQ(*store_->last_id(), events::no_event);
}

// The store reports the event it already holds, and the batch's new events are not kept: the
// first of them can be appended afterwards.
TEST_P(StoreConformance, ADuplicateInABatchReportsTheStoredEventAndStoresNothing) {
  const auto taken = uuid("00000000-0000-4000-8000-0000000000dd");
  ASSERT_TRUE(store_->append(simple("filler")));
  auto first = store_->append(NewEvent{.event = events::Simple{"a"}, .external_uuid = taken});
  ASSERT_TRUE(first);
  const std::vector<NewEvent> batch = {
      NewEvent{.event = events::Simple{"new"},
               .external_uuid = uuid("00000000-0000-4000-8000-0000000000de")},
      NewEvent{.event = events::Simple{"again"}, .external_uuid = taken}};
  auto failed = store_->append_batch(batch);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::duplicate);
  EXPECT_EQ(failed.error().related_id, events::to_int(*first));
  EXPECT_NE(failed.error().message.find("00000000-0000-4000-8000-0000000000dd"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(*store_->last_id(), *first);
  EXPECT_TRUE(store_->append(batch[0]));
}

TEST_P(StoreConformance, EveryClassRoundTrips) {
  const std::vector<events::Event> all = {
      events::Configuration{.retries = 9007199254740993,
                            .timeout = 0.1,
                            .backoff_initial = 1e-7,
                            .backoff_multiplier = 1.0 / 3.0,
                            .backoff_max = 1.7976931348623157e308,
                            .backoff_jitter = 4.9e-324,
                            .deadline = 123456789.123456789},
      events::Simple{"ünïcödé \"quoted\" \\ back\\slash \\u0000 not an escape 😀"},
      events::Request{"{\"nested\": [1, 2.50, {\"b\":1,\"a\":2}]}"},
      events::ApiRequest{1000},
      events::ApiResponse{.attempt = 3, .response = "gnip", .status = 299, .truncated = true},
      events::ApiFailure{
          .attempt = 0, .failure = "503", .status = 503, .body = "busy", .retry_after = 2.5},
      events::ApiTimeout{7},
      events::RequestSucceeded{.attempts = 4, .attempt = 3},
      events::RequestFailed{.attempts = 1, .reason = "deadline"},
  };
  std::vector<NewEvent> batch;
  for (const auto& event : all) batch.push_back(NewEvent{.event = event});
  auto ids = store_->append_batch(batch);
  ASSERT_TRUE(ids) << ids.error().message;
  auto read = store_->read_after(events::no_event, 100);
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(read->size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    // What any store gives back: the codec's own round trip (e.g. -1 fields left out).
    auto expected =
        events::decode_payload(events::class_name(all[i]), events::encode_payload(all[i]));
    ASSERT_TRUE(expected);
    EXPECT_EQ((*read)[i].event, *expected) << events::class_name(all[i]);
  }
}

TEST_P(StoreConformance, CreatedKeepsMicroseconds) {
  const TimePoint before = utc_now();
  auto id = store_->append(simple("when"));
  const TimePoint after = utc_now();
  ASSERT_TRUE(id);
  auto envelope = store_->get(*id);
  ASSERT_TRUE(envelope);
  EXPECT_GE(envelope->created, before);  // a rounding to milliseconds would fail this or the next
  EXPECT_LE(envelope->created, after);
}

TEST_P(StoreConformance, ReadAfterReturnsBoundedOrderedBatches) {
  std::vector<NewEvent> batch;
  for (int i = 0; i < 25; ++i) batch.push_back(simple(std::to_string(i)));
  ASSERT_TRUE(store_->append_batch(batch));
  auto first = store_->read_after(events::no_event, 10);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 10u);
  auto rest = store_->read_after(first->back().id, 100);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 15u);
  EXPECT_EQ(std::get<events::Simple>(rest->back().event).message, "24");
  for (std::size_t i = 1; i < rest->size(); ++i) {
    EXPECT_LT(events::to_int((*rest)[i - 1].id), events::to_int((*rest)[i].id));
  }
  EXPECT_TRUE(store_->read_after(rest->back().id, 10)->empty());
}

TEST_P(StoreConformance, PayloadsWithQuotesAndSqlAreStoredVerbatim) {
  const std::string nasty = "'); DROP TABLE events; -- \"\\ \n\t ünïcödé {\"a\":1}";
  auto id = store_->append(NewEvent{.event = events::Request{nasty}});
  ASSERT_TRUE(id);
  EXPECT_EQ(std::get<events::Request>(store_->get(*id)->event).request, nasty);
}

// SQL is parameterized everywhere: text that would end a quoted literal, a statement or
// open a comment is data in every column and every call, and the tables stay as they were.
TEST_P(StoreConformance, SqlShapedTextIsDataEverywhere) {
  const std::vector<std::string> nasty = {
      "'); DROP TABLE events;--",
      "\"; DELETE FROM checkpoints; --",
      "x' OR '1'='1",
      "'; UPDATE leases SET owner = 'mallory'; --",
      "$1 $$ $body$ \\x00 %s %n {} ?",
      "123e4567-e89b-12d3-a456-426614174000'); DROP TABLE events;--",
      "/* comment */ SELECT pg_sleep(10); -- \u0027 \\' \\\"",
  };
  std::vector<NewEvent> batch;
  for (const std::string& text : nasty) {
    batch.push_back(NewEvent{.event = events::Simple{text}});
    batch.push_back(NewEvent{.event = events::Request{text}});
    batch.push_back(NewEvent{.event = events::ApiResponse{.response = text}});
    batch.push_back(NewEvent{.event = events::ApiFailure{.failure = text, .body = text}});
    batch.push_back(NewEvent{.event = events::RequestFailed{.attempts = 1, .reason = text}});
  }
  auto ids = store_->append_batch(batch);
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(ids->size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto stored = store_->get((*ids)[i]);
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_EQ(stored->event, batch[i].event) << events::encode_payload(batch[i].event);
  }
  for (const std::string& text : nasty) {
    ASSERT_TRUE(store_->save_checkpoint(text, text));
    EXPECT_EQ(**store_->load_checkpoint(text), text);
    auto lease = store_->acquire_lease(text, text, 10s);
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->owner, text);
    EXPECT_EQ(store_->acquire_lease(text, "someone else", 10s)->owner, text);
    ASSERT_TRUE(store_->release_lease(text, text));
  }
  EXPECT_FALSE(store_->load_checkpoint("processor")->has_value());
  EXPECT_EQ(store_->acquire_lease("processor", "me", 10s)->owner, "me");
  EXPECT_EQ(*store_->last_id(), ids->back());
  auto all = store_->read_after(events::no_event, 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), batch.size());
}

// The bound on one payload (limits::payload_bytes_max) is the same on every backend, and a
// batch with one payload over it stores nothing. A payload at the bound reads back: PostgreSQL
// prints jsonb a little longer than it was given, which made it read back as corrupt.
TEST_P(StoreConformance, OversizedPayloadIsRefusedAndNothingIsStored) {
  const std::string at_bound(limits::payload_bytes_max - std::string(R"({"request":""})").size(),
                             'x');
  const NewEvent batch[] = {simple("small"), NewEvent{.event = events::Request{at_bound + "x"}}};
  auto refused = store_->append_batch(batch);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_input);
  EXPECT_NE(refused.error().message.find("larger than"), std::string::npos);
  EXPECT_EQ(*store_->last_id(), events::no_event);
  auto stored = store_->append(NewEvent{.event = events::Request{at_bound}});
  ASSERT_TRUE(stored) << stored.error().message;
  auto read = store_->get(*stored);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(std::get<events::Request>(read->event).request.size(), at_bound.size());
}

TEST_P(StoreConformance, CheckpointsAreSavedAndReplaced) {
  EXPECT_FALSE(store_->load_checkpoint("processor")->has_value());
  ASSERT_TRUE(store_->save_checkpoint("processor", "one"));
  ASSERT_TRUE(store_->save_checkpoint("processor", "two"));
  auto other = open();
  EXPECT_EQ(**other->load_checkpoint("processor"), "two");
}

TEST_P(StoreConformance, LeaseIsExclusiveUntilReleasedOrExpired) {
  auto mine = store_->acquire_lease("processor", "a", 10s);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->owner, "a");
  auto other = open();
  auto theirs = other->acquire_lease("processor", "b", 10s);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->owner, "a");
  EXPECT_EQ(store_->acquire_lease("processor", "a", 10s)->owner, "a");  // renewal
  ASSERT_TRUE(store_->release_lease("processor", "a"));
  EXPECT_EQ(other->acquire_lease("processor", "b", 0ms)->owner, "b");
  EXPECT_EQ(store_->acquire_lease("processor", "a", 10s)->owner, "a");  // b's lease expired
}

TEST_P(StoreConformance, LeaseEpochGrowsOnlyWhenItChangesHands) {
  auto first = store_->acquire_lease("processor", "a", 10s);
  ASSERT_TRUE(first) << first.error().message;
  const std::uint64_t epoch = first->epoch;
  EXPECT_GE(epoch, 1u);
  EXPECT_EQ(store_->acquire_lease("processor", "a", 10s)->epoch, epoch);  // renewal
  auto other = open();
  auto held = other->acquire_lease("processor", "b", 10s);
  EXPECT_EQ(held->owner, "a");
  EXPECT_EQ(held->epoch, epoch);
  ASSERT_TRUE(store_->release_lease("processor", "a"));
  auto taken = other->acquire_lease("processor", "b", 0ms);  // expires at once
  EXPECT_EQ(taken->owner, "b");
  EXPECT_EQ(taken->epoch, epoch + 1);
  ASSERT_TRUE(other->release_lease("processor", "b"));
  // The first holder takes it again: a new term, so its old appends stay fenced out.
  auto again = store_->acquire_lease("processor", "a", 10s);
  EXPECT_EQ(again->owner, "a");
  EXPECT_EQ(again->epoch, epoch + 2);
}

// Issue 15: a processor that lost its lease kept committing. A fenced append stores nothing
// once the lease has changed hands, even if the old holder took it back since.
TEST_P(StoreConformance, FencedAppendStoresNothingAfterTheLeaseChangedHands) {
  auto mine = store_->acquire_lease("processor", "a", 10s);
  ASSERT_TRUE(mine) << mine.error().message;
  const store::Fence fence{"processor", "a", mine->epoch};
  const std::vector<NewEvent> one = {simple("while held")};
  auto ids = store_->append_batch_fenced(one, fence);
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(ids->size(), 1u);

  // Expired but not taken: still ours, appends go on.
  ASSERT_TRUE(store_->acquire_lease("processor", "a", 0ms));
  EXPECT_TRUE(store_->append_batch_fenced(one, fence));

  auto other = open();
  ASSERT_EQ(other->acquire_lease("processor", "b", 10s)->owner, "b");
  const std::vector<NewEvent> late = {simple("after the takeover"), simple("its batch mate")};
  auto refused = store_->append_batch_fenced(late, fence);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::fenced) << refused.error().message;
  EXPECT_NE(refused.error().message.find("processor"), std::string::npos);
  EXPECT_EQ(events::to_int(*store_->last_id()), 2u);

  // b appends under its own epoch; a takes the lease back later under a new one: a's old
  // fence stays refused.
  auto theirs = other->acquire_lease("processor", "b", 10s);
  EXPECT_TRUE(other->append_batch_fenced(one, store::Fence{"processor", "b", theirs->epoch}));
  ASSERT_TRUE(other->release_lease("processor", "b"));
  ASSERT_EQ(store_->acquire_lease("processor", "a", 10s)->owner, "a");
  refused = store_->append_batch_fenced(one, fence);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::fenced);
  EXPECT_EQ(events::to_int(*store_->last_id()), 3u);
  // Unfenced appends (clients) are not concerned.
  EXPECT_TRUE(store_->append_batch(one));
}

TEST_P(StoreConformance, FencedAppendOfANeverTakenLeaseIsRefused) {
  const std::vector<NewEvent> one = {simple("x")};
  auto refused = store_->append_batch_fenced(one, store::Fence{"nobody-took-it", "a", 1});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::fenced);
  EXPECT_EQ(events::to_int(*store_->last_id()), 0u);
}

// Schema version 2 added the lease epoch: a version-1 file is migrated when a writer opens
// it, its events and leases kept; a reader reads it as it is.
TEST(SqliteStoreSchema, AVersionOneFileIsMigratedInPlace) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->append(simple("kept")));
  }
  // Back to the version-1 layout, with a lease held the old way.
  const Output downgraded =
      run({"sqlite3", path,
           "ALTER TABLE leases DROP COLUMN epoch; INSERT INTO leases VALUES ('processor', 'old', "
           "0); PRAGMA user_version = 1;"});
  ASSERT_EQ(downgraded.exit_code, 0) << downgraded.err;
  {
    auto reader = store::open_sqlite_store(store::SqliteOptions{.path = path, .read_only = true});
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_EQ(events::to_int(*(*reader)->last_id()), 1u);
  }
  EXPECT_EQ(run({"sqlite3", path, "PRAGMA user_version"}).out, "1\n");
  auto store = store::open_sqlite_store(store::SqliteOptions{.path = path});
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(run({"sqlite3", path, "PRAGMA user_version"}).out, "2\n");
  auto got = (*store)->get(EventId{1});
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<events::Simple>(got->event).message, "kept");
  auto lease = (*store)->acquire_lease("processor", "new", 10s);  // the old one has expired
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->owner, "new");
  EXPECT_EQ(lease->epoch, 1u);
  const std::vector<NewEvent> one = {simple("fenced")};
  EXPECT_TRUE((*store)->append_batch_fenced(one, store::Fence{"processor", "new", 1}));
}

// A processor and inserters started together open a new file at once: switching it to WAL
// and creating the schema race, and a reader may find the file before its schema. Every
// writer succeeds; a reader succeeds once the file exists.
TEST(SqliteStoreSchema, ProcessesOpeningANewFileAtOnceAllSucceed) {
  for (int round = 0; round < 25; ++round) {
    TempDir dir;
    const std::string path = dir.file("new.db");
    std::fflush(nullptr);
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
      const pid_t child = fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        const bool reader = i == 3;
        if (reader) {
          struct stat info {};
          while (::stat(path.c_str(), &info) != 0) usleep(100);
        }
        auto store =
            store::open_sqlite_store(store::SqliteOptions{.path = path, .read_only = reader});
        if (!store) std::fprintf(stderr, "%s\n", store.error().message.c_str());
        _exit(store && (reader || (*store)->append(simple("x"))) ? 0 : 1);
      }
      children.push_back(child);
    }
    for (const pid_t child : children) {
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
    auto store = store::open_sqlite_store(store::SqliteOptions{.path = path, .read_only = true});
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(events::to_int(*(*store)->last_id()), 3u);
  }
}

TEST_P(StoreConformance, FollowDeliversStoredThenNewEventsUntilStopped) {
  ASSERT_TRUE(store_->append(simple("old")));
  StopSignal stop;
  std::vector<std::string> seen;
  std::thread writer([&] {
    auto other = open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(other->append(simple("new" + std::to_string(i))));
  });
  auto done = store::follow(
      *store_, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        seen.push_back(std::get<events::Simple>(envelope.event).message);
        return seen.size() < 4;
      },
      [](const Error&) { return false; });
  writer.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(seen, (std::vector<std::string>{"old", "new0", "new1", "new2"}));
}

TEST_P(StoreConformance, FollowStopsPromptlyWhenCancelled) {
  StopSignal stop;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  auto done = store::follow(
      *store_, events::no_event, stop, [](const events::Envelope&) { return true; },
      [](const Error&) { return true; });
  canceller.join();
  EXPECT_TRUE(done);
}

TEST_P(StoreConformance, FollowWakesOnAnAppendFromAnotherProcess) {
  if (!fixture_->shared_across_processes()) GTEST_SKIP() << "in-process backend";
  std::fflush(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child appends after the parent is already waiting.
    usleep(100'000);
    auto other = fixture_->open();
    _exit(other && (*other)->append(simple("from child")) ? 0 : 1);
  }
  StopSignal stop;
  std::string message;
  std::thread guard([&] {  // bounds the test if no wake-up ever comes
    stop.wait_for(30s);
    stop.request_stop();
  });
  auto done = store::follow(
      *store_, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        message = std::get<events::Simple>(envelope.event).message;
        return false;
      },
      [](const Error&) { return false; });
  stop.request_stop();
  guard.join();
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(done);
  EXPECT_EQ(message, "from child");
}

// Several connections open a store nobody has opened yet, at once: every one gets a usable
// store (the schema is created once, the losers of the race find it), and every append counts.
TEST_P(StoreConformance, ConcurrentOpensOfANewStoreAllSucceed) {
  const std::unique_ptr<StoreFixture> fresh = GetParam().make();
  const std::vector<std::string> errors = open_concurrently([&] { return fresh->open(); }, 6);
  for (const auto& error : errors) EXPECT_EQ(error, "");
  auto check = fresh->open();
  ASSERT_TRUE(check) << check.error().message;
  auto all = (*check)->read_after(events::no_event, 100);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), 6u);
}

// Every follower sees every id exactly once, in increasing order, while 8 processes append
// (single events and batches) at the same time: commit order is id order on every backend
// that processes share.
TEST_P(StoreConformance, WriterProcessesNeverMakeAFollowerSkip) {
  if (!fixture_->shared_across_processes()) GTEST_SKIP() << "in-process backend";
  expect_writers_never_make_a_follower_skip([&] { return fixture_->open(); });
}

TEST_P(StoreConformance, ConcurrentWritersNeverMakeAFollowerSkip) {
  constexpr int writers = 4;
  constexpr int per_writer = 100;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto own = open();
      for (int i = 0; i < per_writer; ++i) {
        ASSERT_TRUE(own->append(simple(std::to_string(w) + ":" + std::to_string(i))));
      }
    });
  }
  StopSignal stop;
  std::vector<std::uint64_t> ids;
  auto follower = open();
  auto done = store::follow(
      *follower, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        ids.push_back(events::to_int(envelope.id));
        return ids.size() < writers * per_writer;
      },
      [](const Error&) { return false; });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(done);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(writers * per_writer));
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(backends()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace api_broker::testing
