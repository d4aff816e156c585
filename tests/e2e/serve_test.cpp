// `api-broker serve` end to end: the real binary, the real brittle API, curl as the client.
// Every wait is bounded.

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.hpp"
#include "support/test_certs.hpp"

namespace api_broker::testing {
namespace {

using json = nlohmann::json;

const std::string token = "test-token-0123456789";
const std::string read_token = "read-token-0123456789";

struct Answer {
  int status = 0;
  std::string headers;
  std::string body;
  [[nodiscard]] json parsed() const {
    return json::parse(body, nullptr, /*allow_exceptions=*/false);
  }
};

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override { broker.use_backend("sqlite"); }

  // Starts serve with `flags` (plus the store and a token); returns whether it listens.
  bool start_serve(std::vector<std::string> flags) {
    std::vector<std::string> argv{api_broker_bin()};
    argv.insert(argv.end(), broker.store_args.begin(), broker.store_args.end());
    argv.insert(argv.end(), {"serve", "--listen", "127.0.0.1:0", "--api-token", token,
                             "--api-read-token", read_token, "--lease-ttl", "1"});
    argv.insert(argv.end(), flags.begin(), flags.end());
    serve =
        std::make_unique<Child>(argv, broker.dir.file("serve.out"), broker.dir.file("serve.err"));
    for (int i = 0; i < 1000; ++i) {
      const std::string out = read_file(broker.dir.file("serve.out"));
      const auto at = out.find("listening on ");
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        url = out.substr(at + 13, out.find('\n', at) - at - 13);
        return true;
      }
      if (!serve->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  Answer http(const std::string& method, const std::string& path, const std::string& body = {},
              std::vector<std::string> headers = {}, const std::string& bearer = token) {
    std::vector<std::string> argv{"curl",       "-sS",
                                  "--max-time", "40",
                                  "-X",         method,
                                  "-D",         broker.dir.file("headers.txt"),
                                  "-o",         broker.dir.file("body.txt"),
                                  "-w",         "%{http_code}"};
    if (!bearer.empty()) headers.push_back("Authorization: Bearer " + bearer);
    if (!body.empty()) {
      headers.emplace_back("Content-Type: application/json");
      argv.insert(argv.end(), {"--data-binary", body});
    }
    for (const auto& header : headers) argv.insert(argv.end(), {"-H", header});
    argv.push_back(url + path);
    const Output out = run(argv, {}, std::chrono::seconds(60));
    Answer answer;
    answer.status = out.exit_code == 0 ? std::atoi(out.out.c_str()) : -1;
    answer.headers = read_file(broker.dir.file("headers.txt"));
    answer.body = read_file(broker.dir.file("body.txt"));
    return answer;
  }

  std::uint64_t submit(const std::string& body, std::vector<std::string> headers = {}) {
    const Answer answer = http("POST", "/v1/requests", body, std::move(headers));
    EXPECT_EQ(answer.status, 202) << answer.body;
    const json parsed = answer.parsed();
    return parsed.is_object() && parsed.contains("id") ? parsed["id"].get<std::uint64_t>() : 0;
  }

  BrokerFixture broker;
  std::unique_ptr<Child> serve;
  std::string url;
};

TEST_F(ServeTest, HealthAndReadinessNeedNoToken) {
  ASSERT_TRUE(start_serve({})) << read_file(broker.dir.file("serve.err"));
  EXPECT_EQ(http("GET", "/healthz", {}, {}, "").status, 200);
  EXPECT_EQ(http("GET", "/readyz", {}, {}, "").status, 200);
}

TEST_F(ServeTest, SubmitsOverHttpAndTheProcessorCallsTheApi) {
  const std::string api = broker.start_api({"--api-failure-rate", "0"});
  ASSERT_FALSE(api.empty());
  ASSERT_TRUE(start_serve({"--process", "--api-url", api}))
      << read_file(broker.dir.file("serve.err"));
  const Answer answer = http("POST", "/v1/requests", R"({"body":"hello"})");
  ASSERT_EQ(answer.status, 202) << answer.body;
  const auto id = answer.parsed()["id"].get<std::uint64_t>();
  EXPECT_NE(answer.headers.find("Location: /v1/requests/" + std::to_string(id)), std::string::npos)
      << answer.headers;
  // The long poll returns once the request has its outcome (bounded by ?wait=).
  const Answer waited = http("GET", "/v1/requests/" + std::to_string(id) + "?wait=30s");
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(waited.parsed()["state"], "succeeded") << waited.body;
  EXPECT_EQ(waited.parsed()["attempts"].size(), 1U) << waited.body;
  EXPECT_EQ(waited.parsed()["attempts"][0]["status"], 200) << waited.body;
  // Listing by state.
  const Answer listed = http("GET", "/v1/requests?state=succeeded&limit=10");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.parsed()["items"].size(), 1U) << listed.body;
  EXPECT_EQ(listed.parsed()["items"][0]["id"], id);
  EXPECT_EQ(http("GET", "/v1/requests?state=failed").parsed()["items"].size(), 0U);
  // Ready: the store answers, the view caught up, the processor holds its lease (polled: a
  // busy machine may delay the processor's report).
  Answer ready;
  for (int i = 0; i < 50; ++i) {
    ready = http("GET", "/readyz", {}, {}, "");
    if (ready.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(ready.status, 200) << ready.body;
  serve->signal(SIGTERM);
  EXPECT_EQ(serve->wait(std::chrono::seconds(20)), 0);
  EXPECT_EQ(broker.cli({"verify", "--all-finished"}).exit_code, 0);
}

TEST_F(ServeTest, AnIdempotencyKeyReturnsTheFirstRequestOrAConflict) {
  ASSERT_TRUE(start_serve({}));
  const auto id = submit(R"({"body":"pay 10"})", {"Idempotency-Key: order-1"});
  const Answer again =
      http("POST", "/v1/requests", R"({"body":"pay 10"})", {"Idempotency-Key: order-1"});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.parsed()["id"], id);
  const Answer other =
      http("POST", "/v1/requests", R"({"body":"pay 20"})", {"Idempotency-Key: order-1"});
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(other.parsed()["error"]["code"], "idempotency_conflict");
  const Answer by_key = http("GET", "/v1/requests/by-key/order-1");
  EXPECT_EQ(by_key.status, 200) << by_key.body;
  EXPECT_EQ(by_key.parsed()["id"], id);
  EXPECT_EQ(http("GET", "/v1/requests?key=order-1").parsed()["id"], id);
  EXPECT_EQ(http("GET", "/v1/requests/by-key/order-2").status, 404);
}

TEST_F(ServeTest, ABatchIsCommittedTogetherAndADuplicateDoesNotFailTheOthers) {
  ASSERT_TRUE(start_serve({}));
  const auto first = submit(R"({"body":"a"})", {"Idempotency-Key: k-a"});
  const Answer batch = http(
      "POST", "/v1/requests:batch",
      R"({"requests":[{"body":"a","idempotency_key":"k-a"},{"body":"b","idempotency_key":"k-b"},)"
      R"({"body":"b","idempotency_key":"k-b"},{"body":"c","idempotency_key":"k-a"},{"body":"d"}]})");
  ASSERT_EQ(batch.status, 202) << batch.body;
  const json results = batch.parsed()["results"];
  ASSERT_EQ(results.size(), 5U) << batch.body;
  EXPECT_EQ(results[0]["status"], 200);
  EXPECT_EQ(results[0]["id"], first);
  EXPECT_EQ(results[1]["status"], 202);
  EXPECT_EQ(results[2]["status"], 200);
  EXPECT_EQ(results[2]["id"], results[1]["id"]);
  EXPECT_EQ(results[3]["status"], 409);
  EXPECT_EQ(results[4]["status"], 202);
  // Five submissions, three new requests: the log holds 1 + 2.
  EXPECT_EQ(count_in(broker.cli({"list"}).out, " request "), 3U);
}

TEST_F(ServeTest, CancelAndRetryAppendTheirEventsOrConflict) {
  // A URL that refuses connections: the request fails after its one retry.
  ASSERT_EQ(broker.cli({"configure", "--retries", "1", "--backoff-initial", "0.05"}).exit_code, 0);
  const std::string api = broker.start_api({"--api-failure-rate", "0"});
  ASSERT_TRUE(start_serve({"--process", "--api-url", api, "--allow-url", "http://127.0.0.1:1"}));
  const auto failing = submit(R"({"body":"x","url":"http://127.0.0.1:1/nothing"})");
  const Answer failed = http("GET", "/v1/requests/" + std::to_string(failing) + "?wait=30s");
  ASSERT_EQ(failed.parsed()["state"], "failed") << failed.body;
  const Answer cancel_failed =
      http("POST", "/v1/requests/" + std::to_string(failing) + "/cancel", "{}");
  EXPECT_EQ(cancel_failed.status, 409) << cancel_failed.body;
  EXPECT_EQ(cancel_failed.parsed()["error"]["code"], "state_conflict");
  const Answer retry = http("POST", "/v1/requests/" + std::to_string(failing) + "/retry",
                            R"({"reason":"partner fixed"})");
  EXPECT_EQ(retry.status, 202) << retry.body;
  // A second retry of the same failure stores nothing more: refused once the view has read the
  // first, else answered with the first (the event's UUID names the round).
  const Answer again = http("POST", "/v1/requests/" + std::to_string(failing) + "/retry", "{}");
  EXPECT_TRUE(again.status == 202 || again.status == 409) << again.body;
  // The round runs: two more attempts (the URL still refuses), then a second request-failed.
  std::string rounds;
  for (int i = 0; i < 300; ++i) {
    rounds = broker.cli({"list"}).out;
    if (count_in(rounds, "request-failed") == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(count_in(rounds, "request-failed"), 2U) << rounds;
  EXPECT_EQ(count_in(rounds, "api-request"), 4U) << rounds;
  const auto ok = submit(R"({"body":"y"})");
  ASSERT_EQ(http("GET", "/v1/requests/" + std::to_string(ok) + "?wait=30s").parsed()["state"],
            "succeeded");
  const Answer retry_ok = http("POST", "/v1/requests/" + std::to_string(ok) + "/retry", "{}");
  EXPECT_EQ(retry_ok.status, 409) << retry_ok.body;
  const Answer cancel_ok = http("POST", "/v1/requests/" + std::to_string(ok) + "/cancel", "{}");
  EXPECT_EQ(cancel_ok.status, 409) << cancel_ok.body;
  const std::string log = broker.cli({"list"}).out;
  EXPECT_EQ(count_in(log, "request-retried"), 1U) << log;
  EXPECT_EQ(count_in(log, "request-cancelled"), 0U) << log;
  const Output verified = broker.cli({"verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST_F(ServeTest, CancelAcceptsAnUnfinishedRequest) {
  ASSERT_TRUE(start_serve({}));  // no processor: the request stays waiting
  const auto id = submit(R"({"body":"later"})");
  const Answer cancel =
      http("POST", "/v1/requests/" + std::to_string(id) + "/cancel", R"({"reason":"not needed"})");
  EXPECT_EQ(cancel.status, 202) << cancel.body;
  EXPECT_EQ(count_in(broker.cli({"list"}).out, "request-cancelled"), 1U);
  EXPECT_EQ(http("POST", "/v1/requests/999/cancel", "{}").status, 404);
  EXPECT_EQ(http("POST", "/v1/requests/abc/retry", "{}").status, 400);
}

TEST_F(ServeTest, TheEventStreamResumesAfterLastEventId) {
  ASSERT_TRUE(start_serve({}));
  const auto a = submit(R"({"body":"a"})");
  const auto b = submit(R"({"body":"b"})");
  const Output stream =
      run({"curl", "-sS", "-N", "--max-time", "2", "-H", "Authorization: Bearer " + read_token,
           "-H", "Last-Event-ID: " + std::to_string(a), url + "/v1/events"},
          {}, std::chrono::seconds(30));
  EXPECT_EQ(stream.out.find("id: " + std::to_string(a) + "\n"), std::string::npos) << stream.out;
  EXPECT_NE(stream.out.find("id: " + std::to_string(b) + "\nevent: request\ndata: {"),
            std::string::npos)
      << stream.out;
  const Output from_start = run({"curl", "-sS", "-N", "--max-time", "2", "-H",
                                 "Authorization: Bearer " + read_token, url + "/v1/events?after=0"},
                                {}, std::chrono::seconds(30));
  EXPECT_NE(from_start.out.find("id: " + std::to_string(a) + "\n"), std::string::npos);
}

TEST_F(ServeTest, ListsNewestFirstPageByPage) {
  ASSERT_TRUE(start_serve({}));
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(R"({"body":"n"})"));
  std::vector<std::uint64_t> seen;
  std::string path = "/v1/requests?order=newest&limit=2";
  for (int page = 0; page < 10; ++page) {
    const Answer answer = http("GET", path, {}, {}, read_token);
    ASSERT_EQ(answer.status, 200) << answer.body;
    const json parsed = answer.parsed();
    for (const auto& item : parsed["items"]) seen.push_back(item["id"].get<std::uint64_t>());
    if (parsed["next_after"].is_null()) break;
    path = "/v1/requests?order=newest&limit=2&after=" +
           std::to_string(parsed["next_after"].get<std::uint64_t>());
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>(ids.rbegin(), ids.rend())));
  const Answer bad = http("GET", "/v1/requests?order=sideways", {}, {}, read_token);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.parsed()["error"]["code"], "invalid_request");
}

// The default --api-url (http://localhost:8080) is serve's default --listen: the processor
// would call the service itself. Refused at start, in one line, before listening.
TEST_F(ServeTest, RefusesAProcessorThatWouldCallTheServiceItself) {
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"serve", "--api-token", token, "--process"},
           {"serve", "--api-token", token, "--listen", "127.0.0.1:18080", "--process", "--api-url",
            "http://localhost:18080"}}) {
    std::vector<std::string> args = broker.store_args;
    args.insert(args.end(), flags.begin(), flags.end());
    const Output out = api_broker(args, {}, std::chrono::seconds(30));
    EXPECT_EQ(out.exit_code, 2) << out.err;
    EXPECT_EQ(count_in(out.err, "\n"), 1U) << out.err;
    EXPECT_NE(out.err.find("serve's own --listen"), std::string::npos) << out.err;
    EXPECT_EQ(out.out.find("listening on"), std::string::npos) << out.out;
  }
}

TEST_F(ServeTest, TokensAreRequiredAndReadOnlyOnesMayOnlyRead) {
  ASSERT_TRUE(start_serve({}));
  EXPECT_EQ(http("GET", "/v1/requests", {}, {}, "").status, 401);
  EXPECT_EQ(http("GET", "/v1/requests", {}, {}, "wrong-token-0123456789").status, 401);
  EXPECT_EQ(http("GET", "/v1/requests", {}, {}, read_token).status, 200);
  const Answer write = http("POST", "/v1/requests", R"({"body":"x"})", {}, read_token);
  EXPECT_EQ(write.status, 403);
  EXPECT_EQ(write.parsed()["error"]["code"], "forbidden");
}

TEST_F(ServeTest, RefusesToListenBeyondLoopbackWithoutAToken) {
  std::vector<std::string> args = broker.store_args;
  args.insert(args.end(), {"serve", "--listen", "0.0.0.0:0"});
  const Output out = api_broker(args, {}, std::chrono::seconds(30));
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_NE(out.err.find("without an API token"), std::string::npos) << out.err;
}

TEST_F(ServeTest, ServesHttpsWithTlsCertAndKey) {
  const std::string certs = broker.dir.file("certs");
  ASSERT_EQ(make_test_certs(certs), "");
  ASSERT_TRUE(
      start_serve({"--tls-cert", certs + "/server.pem", "--tls-key", certs + "/server.key"}))
      << read_file(broker.dir.file("serve.err"));
  ASSERT_EQ(url.rfind("https://", 0), 0U) << url;
  const Output out = run({"curl", "-sS", "--max-time", "20", "--cacert", certs + "/ca.pem", "-X",
                          "POST", "-H", "Authorization: Bearer " + token, "--data-binary",
                          R"({"body":"over tls"})", url + "/v1/requests"},
                         {}, std::chrono::seconds(30));
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("\"id\":1"), std::string::npos) << out.out;
}

TEST_F(ServeTest, BadInputIsA4xxAndNeverACrash) {
  ASSERT_TRUE(start_serve({}));
  const std::string big(9 * 1024 * 1024, 'x');
  const std::string big_file = broker.dir.file("big.json");
  {
    std::FILE* file = std::fopen(big_file.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::fwrite(big.data(), 1, big.size(), file);
    std::fclose(file);
  }
  const Answer oversized = http("POST", "/v1/requests", "@" + big_file);
  EXPECT_EQ(oversized.status, 413) << oversized.body;
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
    std::string header{};
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/v1/requests", R"({"body":)", 400, "invalid_json"},
           {"POST", "/v1/requests", R"({"body":"x","unknown":1})", 400, "invalid_request"},
           {"POST", "/v1/requests", R"({"body":"x","url":"http://elsewhere.test/"})", 400,
            "invalid_request"},
           {"POST", "/v1/requests:batch", R"({"requests":[{"body":1}]})", 400, "invalid_request"},
           {"GET", "/v1/requests/0", "", 400, "invalid_id"},
           {"GET", "/v1/requests/18446744073709551616", "", 400, "invalid_id"},
           {"GET", "/v1/requests/123456", "", 404, "not_found"},
           {"GET", "/v1/requests?state=bogus", "", 400, "invalid_request"},
           {"GET", "/v1/requests?limit=0", "", 400, "invalid_request"},
           {"GET", "/v1/requests/1?wait=forever", "", 400, "invalid_request"},
           {"GET", "/v1/events?after=x", "", 400, "invalid_id"},
           {"GET", "/v1/events?after=9223372036854775808", "", 400, "invalid_id"},
           {"GET", "/v1/requests?after=18446744073709551615", "", 400, "invalid_id"},
           {"POST", "/v1/requests",
            R"({"body":"x","headers":)" + std::string(200, '[') + std::string(200, ']') + "}", 400,
            "invalid_request"},
           {"POST", "/v1/requests", R"({"body":"x"})", 400, "invalid_id",
            "Idempotency-Key;"},  // curl's way of sending a header with an empty value
           {"DELETE", "/v1/requests", "", 405, "method_not_allowed"},
           {"GET", "/v2", "", 404, "not_found"},
       }) {
    const Answer answer =
        http(c.method, c.path, c.body,
             c.header.empty() ? std::vector<std::string>{} : std::vector<std::string>{c.header});
    EXPECT_EQ(answer.status, c.status) << c.method << " " << c.path << " " << answer.body;
    EXPECT_EQ(answer.parsed()["error"]["code"], c.code) << c.path << " " << answer.body;
  }
  // Still serving, and nothing was written.
  EXPECT_EQ(http("GET", "/healthz").status, 200);
  EXPECT_EQ(broker.cli({"list"}).out, "");
}

// Issue 14: SIGTERM drains serve's processor: the call in flight is answered and recorded
// before it exits 0, and no new attempt starts meanwhile.
TEST_F(ServeTest, SigtermDrainsTheProcessorsCallsInFlight) {
  const std::string api = broker.start_api(
      {"--api-min-latency", "1.5", "--api-max-latency", "1.5", "--api-failure-rate", "0"});
  ASSERT_FALSE(api.empty());
  ASSERT_TRUE(start_serve({"--process", "--api-url", api}))
      << read_file(broker.dir.file("serve.err"));
  const std::uint64_t id = submit(R"({"body":"slow"})");
  ASSERT_NE(id, 0U);
  bool sent = false;
  for (int i = 0; i < 1500 && !sent; ++i) {
    sent = count_in(broker.cli({"list"}).out, "api-request") > 0;
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(sent);
  serve->signal(SIGTERM);
  EXPECT_EQ(serve->wait(std::chrono::seconds(60)), 0) << read_file(broker.dir.file("serve.err"));
  const std::string log = read_file(broker.dir.file("serve.err"));
  EXPECT_NE(log.find("draining: 1 calls in flight"), std::string::npos) << log;
  EXPECT_NE(log.find("drained"), std::string::npos) << log;
  const Output verified = broker.cli({"verify", "--all-finished"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
}

}  // namespace
}  // namespace api_broker::testing
