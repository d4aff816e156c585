// The brittle API's faults and what it records of them: 503s, dropped connections, seeded
// outcomes, stale lease epochs, the stats and the calls log.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include "api_broker/brittle_api/brittle_api.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "unit/brittle_api/brittle_api_fixture.hpp"

namespace api_broker::brittle_api {
namespace {

namespace http = boost::beast::http;
using test::Client;
using test::closed_without_answer;
using test::Exchange;
using test::get_json;
using test::Json;
using test::outcome_of;
using test::post_api;
using test::start_server;

TEST(BrittleApi, AllFailuresAnswer503WhenNoneIsSilent) {
  auto server = start_server({.failure_rate = 1, .silent_failure_rate = 0});
  ASSERT_TRUE(server);
  Client client(server->port());
  for (int i = 0; i < 20; ++i) {
    const Exchange exchange = client.send(http::verb::post, "/api", "ping");
    ASSERT_TRUE(exchange.response) << exchange.error.message();
    EXPECT_EQ(exchange.response->result(), http::status::service_unavailable);
    EXPECT_EQ(exchange.response->body(), "service unavailable");
  }
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, 20U);
  EXPECT_EQ(stats.failed, 20U);
  EXPECT_EQ(stats.succeeded + stats.dropped + stats.in_flight, 0U);
}

TEST(BrittleApi, SilentFailuresCloseTheConnectionWithoutAnswer) {
  auto server = start_server({.failure_rate = 1, .silent_failure_rate = 1});
  ASSERT_TRUE(server);
  for (int i = 0; i < 10; ++i) {
    const Exchange exchange = post_api(server->port(), "ping");
    EXPECT_TRUE(closed_without_answer(exchange)) << outcome_of(exchange);
  }
  const Stats stats = server->stats();
  EXPECT_EQ(stats.calls, 10U);
  EXPECT_EQ(stats.dropped, 10U);
}

std::vector<std::string> outcome_sequence(std::uint64_t seed, int count) {
  auto server = start_server(
      {.failure_rate = 0.5, .silent_failure_rate = 0.5, .seed = seed, .calls_log_path = {}});
  if (!server) return {};
  EXPECT_EQ(server->seed(), seed);
  std::vector<std::string> outcomes;
  for (int i = 0; i < count; ++i) {
    outcomes.push_back(outcome_of(post_api(server->port(), "ping")));  // a new connection each
  }
  return outcomes;
}

TEST(BrittleApi, SameSeedGivesSameOutcomes) {
  const std::vector<std::string> first = outcome_sequence(42, 60);
  const std::vector<std::string> second = outcome_sequence(42, 60);
  const std::vector<std::string> other = outcome_sequence(43, 60);
  ASSERT_EQ(first.size(), 60U);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
  for (const char* outcome : {"ok", "503", "dropped"}) {
    EXPECT_NE(std::find(first.begin(), first.end(), outcome), first.end()) << outcome;
  }
}

// Fencing tokens (issue 15): a call from a processor that lost its lease carries an older
// epoch than its successor's; a partner that checks them refuses it without doing the work.
TEST(BrittleApi, RejectsCallsWithAStaleLeaseEpochWhenAsked) {
  auto server = start_server(Options{.reject_stale_epochs = true});
  ASSERT_TRUE(server);
  auto send = [&](const char* epoch) {
    std::map<std::string, std::string> headers{{"Idempotency-Key", "k"}};
    if (epoch != nullptr) headers["Api-Broker-Lease-Epoch"] = epoch;
    Exchange exchange = Client(server->port()).send(http::verb::post, "/api", "ab", headers);
    EXPECT_TRUE(exchange.response) << exchange.error.message();
    return exchange.response ? exchange.response->result_int() : 0U;
  };
  EXPECT_EQ(send("3"), 200U);
  EXPECT_EQ(send("4"), 200U);  // a successor
  EXPECT_EQ(send("3"), 409U);  // the old holder, continued after a pause
  EXPECT_EQ(send("4"), 200U);
  EXPECT_EQ(send(nullptr), 200U);  // no token: not concerned
  EXPECT_EQ(server->stats().stale, 1U);
  EXPECT_EQ(get_json(server->port(), "/stats")["stale"], 1);

  auto plain = start_server();  // without the option, epochs are ignored
  ASSERT_TRUE(plain);
  std::map<std::string, std::string> old{{"Api-Broker-Lease-Epoch", "1"}};
  ASSERT_TRUE(Client(plain->port())
                  .send(http::verb::post, "/api", "x", {{"Api-Broker-Lease-Epoch", "2"}})
                  .response);
  auto exchange = Client(plain->port()).send(http::verb::post, "/api", "x", old);
  ASSERT_TRUE(exchange.response);
  EXPECT_EQ(exchange.response->result_int(), 200U);
}

TEST(BrittleApi, StatsCountCallsAndIdempotencyKeys) {
  auto server = start_server();
  ASSERT_TRUE(server);
  const std::uint16_t port = server->port();
  for (const char* key : {"key-a", "key-b", "key-a", "", "key-a", "\"odd\\key\""}) {
    const Exchange exchange = post_api(port, "x", key);
    ASSERT_TRUE(exchange.response) << exchange.error.message();
  }
  const std::string long_key(key_bytes_max + 1, 'k');
  ASSERT_TRUE(post_api(port, "x", long_key).response);

  const Json stats = get_json(port, "/stats");
  EXPECT_EQ(stats["calls"], 7);
  EXPECT_EQ(stats["succeeded"], 7);
  EXPECT_EQ(stats["failed"], 0);
  EXPECT_EQ(stats["dropped"], 0);
  EXPECT_EQ(stats["in_flight"], 0);
  EXPECT_EQ(stats["keys"], 3);
  EXPECT_EQ(stats["max_calls_per_key"], 3);
  EXPECT_EQ(stats["keys_overflow"], true);  // the long key was not counted

  const Json keys = get_json(port, "/stats/keys");
  EXPECT_EQ(keys, Json({{"key-a", 3}, {"key-b", 1}, {"\"odd\\key\"", 1}}));

  const Stats direct = server->stats();
  EXPECT_EQ(direct.calls, 7U);
  EXPECT_EQ(direct.succeeded, 7U);
  EXPECT_EQ(direct.keys, 3U);
  EXPECT_EQ(direct.max_calls_per_key, 3U);
  EXPECT_TRUE(direct.keys_overflow);
}

TEST(BrittleApi, CallsLogHasOneLinePerCall) {
  const auto path = std::filesystem::path(testing::TempDir()) /
                    fmt::format("brittle_api_calls_{}.jsonl", ::getpid());
  std::filesystem::remove(path);
  std::map<std::string, std::string> outcome_by_key;
  {
    auto server = start_server({.min_latency = 0.001,
                                .max_latency = 0.002,
                                .failure_rate = 0.5,
                                .silent_failure_rate = 0.5,
                                .seed = 7,
                                .calls_log_path = path.string()});
    ASSERT_TRUE(server);
    for (int i = 0; i < 30; ++i) {
      const std::string key = fmt::format("key-{}", i);
      // Every third call names its attempt; one names a malformed one.
      std::map<std::string, std::string> headers{{"Idempotency-Key", key}};
      if (i % 3 == 0) headers["Api-Broker-Attempt"] = std::to_string(i);
      if (i == 1) headers["Api-Broker-Attempt"] = "1x";
      outcome_by_key[key] =
          outcome_of(Client(server->port()).send(http::verb::post, "/api", "x", headers));
    }
    // And one call without a key, whatever its outcome.
    static_cast<void>(post_api(server->port(), "x"));
    // stop() flushes the log.
    server->stop();
  }
  std::ifstream file(path);
  std::string line;
  std::map<std::string, std::string> logged;
  int lines = 0;
  while (std::getline(file, line)) {
    ++lines;
    const Json entry = Json::parse(line);
    EXPECT_GT(entry["t_us"].get<std::int64_t>(), 1'600'000'000'000'000);
    const double latency_ms = entry["latency_ms"].get<double>();
    EXPECT_GE(latency_ms, 1.0);
    EXPECT_LE(latency_ms, 2.0);
    const auto key = entry["key"].get<std::string>();
    if (!key.empty()) logged[key] = entry["outcome"].get<std::string>();
    // Received before its outcome was applied.
    EXPECT_LE(entry["received_us"].get<std::int64_t>(), entry["t_us"].get<std::int64_t>()) << line;
    const int number = key.empty() ? -1 : std::stoi(key.substr(4));
    if (number >= 0 && number % 3 == 0) {
      EXPECT_EQ(entry["attempt"], number) << line;
    } else {
      EXPECT_TRUE(entry["attempt"].is_null()) << line;
    }
  }
  EXPECT_EQ(lines, 31);
  EXPECT_EQ(logged, outcome_by_key);
  std::filesystem::remove(path);
}

// The calls log records what each call sent: method, target, every header field, body.
TEST(BrittleApiFaults, CallsLogRecordsWhatEachCallSent) {
  const auto path = std::filesystem::path(testing::TempDir()) /
                    fmt::format("brittle_api_sent_{}.jsonl", ::getpid());
  std::filesystem::remove(path);
  {
    auto server = start_server({.seed = 1, .calls_log_path = path.string()});
    ASSERT_TRUE(server);
    (void)Client(server->port())
        .send(http::verb::put, "/v1/items/7?dry=1", R"({"a":"\u00e9"})",
              {{"Authorization", "Bearer t"}, {"Content-Type", "application/json"}});
    (void)Client(server->port()).send(http::verb::get, "/redirect/x");
    server->stop();
  }
  std::ifstream file(path);
  std::string line;
  ASSERT_TRUE(std::getline(file, line));
  const Json put = Json::parse(line);
  EXPECT_EQ(put["method"], "PUT");
  EXPECT_EQ(put["target"], "/v1/items/7?dry=1");
  EXPECT_EQ(put["body"], R"({"a":"\u00e9"})");
  std::map<std::string, std::string> headers;
  for (const auto& field : put["headers"]) headers[field[0]] = field[1];
  EXPECT_EQ(headers["Authorization"], "Bearer t");
  EXPECT_EQ(headers["Content-Type"], "application/json");
  ASSERT_TRUE(std::getline(file, line));
  const Json redirect = Json::parse(line);
  EXPECT_EQ(redirect["outcome"], "redirect");
  EXPECT_EQ(redirect["target"], "/redirect/x");
  EXPECT_FALSE(std::getline(file, line));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace api_broker::brittle_api
