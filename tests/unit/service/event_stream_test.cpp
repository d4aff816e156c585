// GET /v1/events: the stream opens its store on its own thread, and a store that cannot be
// opened is a 503 without a stream.

#include "event_stream.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "api_broker/store/memory_store.hpp"
#include "router.hpp"

namespace api_broker::service {
namespace {

using namespace std::chrono_literals;

struct Opened {
  std::thread::id thread;
  int calls = 0;
};

// Dispatches GET /v1/events?after=0 and waits (bounded) for the answer.
Response open_stream(Router& router) {
  Request request;
  request.method = "GET";
  request.path = "/v1/events";
  request.query["after"] = "0";
  request.access = Access::read_only;
  auto answered = std::make_shared<std::promise<Response>>();
  auto answer = answered->get_future();
  router.dispatch(request, [answered](Response response) { answered->set_value(response); });
  EXPECT_EQ(answer.wait_for(30s), std::future_status::ready);
  return answer.get();
}

TEST(EventStream, AStoreThatCannotBeOpenedIsA503OpenedOffTheCallersThread) {
  auto opened = std::make_shared<Opened>();
  EventStreams streams([opened]() -> Result<std::unique_ptr<store::EventStore>> {
    opened->thread = std::this_thread::get_id();
    ++opened->calls;
    return fail(Errc::unavailable, "the database is down");
  });
  Router router;
  streams.add_routes(router);

  const auto response = open_stream(router);

  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.stream, nullptr);
  EXPECT_NE(response.body.find("\"unavailable\""), std::string::npos) << response.body;
  EXPECT_NE(response.body.find("the database is down"), std::string::npos) << response.body;
  EXPECT_EQ(opened->calls, 1);
  EXPECT_NE(opened->thread, std::this_thread::get_id());
}

TEST(EventStream, AnOpenedStoreStreamsTheLogFromItsOwnThread) {
  auto log = std::make_shared<store::MemoryLog>();
  store::MemoryStore writer(log);
  ASSERT_TRUE(writer.append(events::NewEvent{.event = events::Simple{"hello"}}));
  auto opened = std::make_shared<Opened>();
  EventStreams streams([log, opened]() -> Result<std::unique_ptr<store::EventStore>> {
    opened->thread = std::this_thread::get_id();
    return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log));
  });
  Router router;
  streams.add_routes(router);

  const auto response = open_stream(router);

  ASSERT_EQ(response.status, 200);
  ASSERT_NE(response.stream, nullptr);
  EXPECT_NE(opened->thread, std::this_thread::get_id());
  std::string text;
  response.stream->on_ready([] {});
  for (int i = 0; i < 3000 && text.find("event: simple") == std::string::npos; ++i) {
    (void)response.stream->take(text);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(text.find("retry: 1000"), std::string::npos) << text;
  EXPECT_NE(text.find("id: 1\nevent: simple"), std::string::npos) << text;
  response.stream->close();
}

// A stream whose answer the server let go of (its client left while the store was being
// opened, or since) ends its thread and closes its store connection.
TEST(EventStream, AStreamTheServerLetsGoOfEndsItsThread) {
  auto log = std::make_shared<store::MemoryLog>();
  EventStreams streams([log]() -> Result<std::unique_ptr<store::EventStore>> {
    return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log));
  });
  Router router;
  streams.add_routes(router);
  const long before = log.use_count();

  auto response = open_stream(router);
  ASSERT_EQ(response.status, 200);
  EXPECT_GT(log.use_count(), before);  // the stream's store and opener
  response.stream.reset();

  for (int i = 0; i < 3000 && log.use_count() > before; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log.use_count(), before);
}

}  // namespace
}  // namespace api_broker::service
