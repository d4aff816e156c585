// What only the MongoDB backend has: connection errors, its collections, BSON payloads, the
// append lock and reconnection. The EventStore contract itself (writer processes included)
// is in tests/conformance/. Runs against $API_BROKER_MONGODB_URL: a MongoDB server, or the
// wire-protocol stand-in (tests/mongo_standin) that scripts/test.sh starts.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <optional>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "conformance/concurrent_writers.hpp"  // open_concurrently
#include "conformance/mongo_fixture.hpp"
#include "support/tcp_proxy.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;
using events::EventId;
using events::NewEvent;
using store::EventStore;
using store::MongoOptions;

NewEvent simple(std::string message) {
  return NewEvent{.event = events::Simple{std::move(message)}};
}

bool one_line(const std::string& text) { return text.find('\n') == std::string::npos; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MongoStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = fixture_.unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << "mongodb skipped: " << reason;
    }
  }
  std::unique_ptr<EventStore> open(const MongoOptions& options) {
    auto store = store::open_mongo_store(options);
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }
  std::unique_ptr<EventStore> open() { return open(fixture_.options()); }
  std::string command(const std::string& json) {
    auto reply = fixture_.command(json);
    EXPECT_TRUE(reply) << (reply ? "" : reply.error().message);
    return reply ? *reply : "";
  }
  MongoFixture fixture_;
};

// --- opening: one clear line, no password (no server needed) ---

TEST(MongoOpen, AnUnreachableServerIsOneLine) {
  auto store = store::open_mongo_store(
      MongoOptions{.url = "mongodb://127.0.0.1:1/x", .connect_timeout = 5s});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_TRUE(contains(store.error().message, "127.0.0.1:1")) << store.error().message;
  EXPECT_TRUE(contains(store.error().message, "refused")) << store.error().message;
}

TEST(MongoOpen, HostAndPortWithoutAUrlAreUsed) {
  auto store = store::open_mongo_store(
      MongoOptions{.host = "127.0.0.1", .port = "1", .database = "db", .connect_timeout = 5s});
  ASSERT_FALSE(store);
  EXPECT_TRUE(contains(store.error().message, "at 127.0.0.1:1/db:")) << store.error().message;
}

TEST(MongoOpen, AMalformedUrlIsInvalidInputWithoutThePassword) {
  auto store = store::open_mongo_store(MongoOptions{.url = "mongodb://bob:Secret-1@[::1/x"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::invalid_input);
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_FALSE(contains(store.error().message, "Secret-1")) << store.error().message;
  auto other = store::open_mongo_store(MongoOptions{.url = "postgresql://127.0.0.1/x"});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, Errc::invalid_input);
}

TEST(MongoOpen, ABadDatabaseNameIsInvalidInput) {
  for (const char* name : {"a/b", "a.b", "a b", "$x"}) {
    auto store =
        store::open_mongo_store(MongoOptions{.url = "mongodb://127.0.0.1:1/", .database = name});
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, Errc::invalid_input) << name;
    EXPECT_TRUE(contains(store.error().message, "database name")) << store.error().message;
  }
}

TEST_F(MongoStoreTest, AFailedLoginIsOneLineWithoutThePassword) {
  MongoOptions options = fixture_.options();
  options.user = "api_broker_no_such_user";
  options.password = "Wrong-Battery-9";
  auto store = store::open_mongo_store(options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(store.error().message)) << store.error().message;
  EXPECT_TRUE(contains(store.error().message, "uthentication failed")) << store.error().message;
  EXPECT_FALSE(contains(store.error().message, "Wrong-Battery-9")) << store.error().message;
}

// --- the collections ---

// The conformance suite checks that concurrent opens all succeed; here, that the layout they
// race to create is made once: one schema document, the lock document free, and a capped
// notifications collection.
TEST_F(MongoStoreTest, ConcurrentOpensCreateTheLayoutOnce) {
  for (const auto& error :
       open_concurrently([&] { return store::open_mongo_store(fixture_.options()); }, 6)) {
    EXPECT_EQ(error, "");
  }
  EXPECT_TRUE(
      contains(command(R"({"count": "api_broker", "query": {"_id": "schema"}})"), R"("n" : 1)"));
  const std::string head = command(R"({"find": "api_broker", "filter": {"_id": "events"}})");
  EXPECT_TRUE(contains(head, R"("last" : 6)")) << head;
  EXPECT_TRUE(contains(head, R"("owner" : null)")) << head;
  const std::string collections =
      command(R"({"listCollections": 1, "filter": {"name": "notifications"}})");
  EXPECT_TRUE(contains(collections, R"("capped" : true)")) << collections;
}

TEST_F(MongoStoreTest, ALayoutNewerThanThisBuildIsRefused) {
  ASSERT_TRUE(open());
  command(R"({"update": "api_broker", "updates": [{"q": {"_id": "schema"},
              "u": {"$set": {"version": 99}}}]})");
  auto store = store::open_mongo_store(fixture_.options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unsupported);
  EXPECT_TRUE(contains(store.error().message, "layout version 99, newer than"))
      << store.error().message;
}

TEST_F(MongoStoreTest, AnEventsCollectionItDidNotCreateIsRefused) {
  command(R"({"insert": "events", "documents": [{"_id": 1, "event": "the prototype's"}]})");
  auto store = store::open_mongo_store(fixture_.options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unsupported);
  EXPECT_TRUE(contains(store.error().message, "events collection that api-broker did not create"))
      << store.error().message;
}

TEST_F(MongoStoreTest, AnUncappedNotificationsCollectionIsRefused) {
  command(R"({"create": "notifications"})");
  auto store = store::open_mongo_store(fixture_.options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::unsupported);
  EXPECT_TRUE(contains(store.error().message, "not capped")) << store.error().message;
}

// --- values ---

TEST_F(MongoStoreTest, PayloadsAreBsonDocumentsAndUuidsAreBinary) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append(
      NewEvent{.event = events::ApiResponse{.attempt = 2, .response = "gnip", .status = 200},
               .causation_id = EventId{7},
               .external_uuid = *events::parse_uuid("00000000-0000-4000-8000-0000000000ee")}));
  const std::string stored = command(R"({"find": "events", "filter": {"_id": 1}})");
  // What a user's own tools see: fields to query, not a JSON string.
  EXPECT_TRUE(contains(stored, R"("class" : "api-response")")) << stored;
  EXPECT_TRUE(contains(stored, R"("payload" : { "attempt" : 2, "response" : "gnip")")) << stored;
  EXPECT_TRUE(contains(stored, R"("causation_id" : 7)")) << stored;
  EXPECT_TRUE(contains(stored, R"("base64" : "AAAAAAAAQACAAAAAAAAA7g==", "subType" : "04")"))
      << stored;
  EXPECT_TRUE(contains(stored, R"("created" : { "$date" : ")")) << stored;
  const std::string queried =
      command(R"({"find": "events", "filter": {"payload.response": "gnip"}})");
  EXPECT_TRUE(contains(queried, R"("_id" : 1)")) << queried;
}

// A NUL inside a string is kept as it is (BSON strings carry their length); PostgreSQL's
// jsonb cannot hold one and stores the replacement character instead.
TEST_F(MongoStoreTest, ANulCharacterIsKept) {
  auto store = open();
  ASSERT_TRUE(store);
  auto id = store->append(NewEvent{
      .event = events::ApiResponse{.attempt = 3, .response = std::string("nul\0inside", 10)}});
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(std::get<events::ApiResponse>(store->get(*id)->event).response,
            std::string("nul\0inside", 10));
}

// The conformance suite checks that a batch with a duplicate stores nothing; here, that no
// document of it stays behind in the collection.
TEST_F(MongoStoreTest, ADuplicateInABatchLeavesNoDocumentBehind) {
  auto store = open();
  ASSERT_TRUE(store);
  const auto taken = *events::parse_uuid("00000000-0000-4000-8000-0000000000dd");
  ASSERT_TRUE(store->append(NewEvent{.event = events::Simple{"a"}, .external_uuid = taken}));
  const std::vector<NewEvent> batch = {
      simple("new"), NewEvent{.event = events::Simple{"again"}, .external_uuid = taken}};
  auto failed = store->append_batch(batch);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::duplicate);
  EXPECT_TRUE(contains(command(R"({"count": "events"})"), R"("n" : 1)"));
}

// --- the append lock ---

// A writer died after inserting documents but before moving `last`: readers never see them,
// and the next append removes them and takes their ids.
TEST_F(MongoStoreTest, LeftoversOfAWriterThatNeverCommittedAreInvisibleThenReplaced) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append_batch(std::vector<NewEvent>{simple("1"), simple("2")}));
  command(R"({"insert": "events", "documents": [
      {"_id": {"$numberLong": "3"}, "created": {"$date": {"$numberLong": "0"}},
       "causation_id": {"$numberLong": "0"}, "class": "simple", "payload": {"message": "ghost"},
       "external_uuid": {"$binary": {"base64": "AAAAAAAAQACAAAAAAAAA7g==", "subType": "04"}},
       "lock_epoch": {"$numberLong": "0"}},
      {"_id": {"$numberLong": "4"}, "created": {"$date": {"$numberLong": "0"}},
       "causation_id": {"$numberLong": "0"}, "class": "simple", "payload": {"message": "ghost"},
       "lock_epoch": {"$numberLong": "0"}}]})");
  // ... and its lock, held by a process of another machine, has expired.
  command(R"({"update": "api_broker", "updates": [{"q": {"_id": "events"},
      "u": {"$set": {"owner": "elsewhere:1:dead", "expires": {"$date": "2000-01-01T00:00:00Z"}}}}]})");
  const auto ghost_uuid = *events::parse_uuid("00000000-0000-4000-8000-0000000000ee");

  auto reader = open();
  ASSERT_TRUE(reader);
  EXPECT_EQ(events::to_int(*reader->last_id()), 2u);
  EXPECT_TRUE(reader->read_after(EventId{2}, 10)->empty());
  EXPECT_EQ(reader->get(EventId{3}).error().code, Errc::not_found);
  EXPECT_EQ(reader->resolve(ghost_uuid).error().code, Errc::not_found);

  auto id = store->append(NewEvent{.event = events::Simple{"real"}, .external_uuid = ghost_uuid});
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(events::to_int(*id), 3u);
  EXPECT_EQ(std::get<events::Simple>(reader->get(EventId{3})->event).message, "real");
  EXPECT_EQ(*reader->resolve(ghost_uuid), *id);
  EXPECT_TRUE(contains(command(R"({"count": "events"})"), R"("n" : 3)"));
}

// The holder of the lock is a process of this machine that has exited (kill -9): the next
// writer takes the lock at once instead of waiting for it to expire.
TEST_F(MongoStoreTest, ALockHeldByAnExitedProcessOfThisMachineIsTakenAtOnce) {
  auto store = open();
  ASSERT_TRUE(store);
  std::fflush(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  command(fmt::format(R"({{"update": "api_broker", "updates": [{{"q": {{"_id": "events"}},
      "u": {{"$set": {{"owner": "{}:{}:0dead0", "expires": {{"$date": "2100-01-01T00:00:00Z"}}}}}}}}]}})",
                      host, child));
  auto id = store->append(simple("after the crash"));  // would wait 30 s, then fail
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(events::to_int(*id), 1u);
}

// --- reconnection (through a relay that can cut every connection) ---

TEST_F(MongoStoreTest, ALostConnectionFailsOneCallThenTheStoreReconnects) {
  const auto target = fixture_.single_host();
  if (!target) GTEST_SKIP() << "needs a URL naming one server: " << fixture_.url();
  TcpProxy proxy(target->first, target->second);
  MongoOptions options = fixture_.options();
  options.url = fmt::format("mongodb://127.0.0.1:{}/", proxy.port());
  auto store = open(options);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append(simple("before")));
  proxy.drop();
  auto lost = store->append(simple("lost"));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, Errc::unavailable);
  EXPECT_TRUE(one_line(lost.error().message)) << lost.error().message;
  EXPECT_TRUE(contains(lost.error().message, "connection lost")) << lost.error().message;
  // The driver reconnects on a later call (it may refuse to retry within its 500 ms
  // cool-down after a failed check): a long-running caller retries with a backoff.
  Result<EventId> again = fail(Errc::unavailable, "not tried");
  for (int attempt = 0; attempt < 50 && !again; ++attempt) {
    again = store->append(simple("after"));
    if (!again) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(again) << again.error().message;
  auto read = store->read_after(events::no_event, 10);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ(std::get<events::Simple>(read->back().event).message, "after");
}

TEST_F(MongoStoreTest, AWaitingFollowerWakesAgainAfterItsConnectionsWereCut) {
  const auto target = fixture_.single_host();
  if (!target) GTEST_SKIP() << "needs a URL naming one server: " << fixture_.url();
  TcpProxy proxy(target->first, target->second);
  MongoOptions options = fixture_.options();
  options.url = fmt::format("mongodb://127.0.0.1:{}/", proxy.port());
  auto follower = open(options);
  auto writer = open();
  ASSERT_TRUE(follower && writer);
  StopSignal stop;
  ASSERT_TRUE(follower->wait_for_append(events::no_event, 50ms, stop));  // the watcher tails
  proxy.refuse(true);  // every connection cut, no new one for a while
  std::this_thread::sleep_for(300ms);
  proxy.refuse(false);
  ASSERT_TRUE(writer->append(simple("wake")));
  std::thread guard([&] {  // bounds the test if no wake-up ever comes
    stop.wait_for(30s);
    stop.request_stop();
  });
  std::uint64_t seen = 0;
  for (int attempt = 0; attempt < 100 && seen == 0 && !stop.stop_requested(); ++attempt) {
    auto waited = follower->wait_for_append(events::no_event, 10s, stop);
    if (!waited) {  // the follower's own connection was cut too: one failure, then it works
      std::this_thread::sleep_for(100ms);
      continue;
    }
    auto last = follower->last_id();
    if (last) seen = events::to_int(*last);
  }
  stop.request_stop();
  guard.join();
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace api_broker::testing
