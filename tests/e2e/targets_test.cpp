// What a request sends, where, with which secrets (issue 11): the real processor against real
// brittle APIs on loopback, each recording in its calls log the method, target, headers and
// body it received; SQLite only (nothing here depends on the backend).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api_broker/broker/processor_ports.hpp"
#include "e2e/broker_fixture.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One more brittle API on a free port, with its own calls log.
struct ExtraApi {
  std::unique_ptr<Child> child;
  std::string url;
  std::string calls_log;
};

ExtraApi start_extra_api(TempDir& dir, const std::string& name,
                         const std::vector<std::string>& flags = {}) {
  ExtraApi api{.child = nullptr, .url = "", .calls_log = dir.file(name + ".calls.jsonl")};
  std::vector<std::string> argv{api_broker_bin(), "brittle-api", "serve",
                                "127.0.0.1:0",    "--calls-log", api.calls_log};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string err = dir.file(name + ".err");
  api.child = std::make_unique<Child>(argv, dir.file(name + ".out"), err);
  const std::string mark = "listening on 127.0.0.1:";
  for (int i = 0; i < 1000 && api.url.empty(); ++i) {
    const std::string text = read_file(err);
    const auto at = text.find(mark);
    if (at != std::string::npos) {
      const auto start = at + mark.size();
      api.url = "http://127.0.0.1:" +
                text.substr(start, text.find_first_not_of("0123456789", start) - start);
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  return api;
}

// The calls log's lines, once it holds at least `count` (it is flushed every 100 ms).
std::vector<json> calls_in(const std::string& path, std::size_t count) {
  std::vector<json> calls;
  for (int i = 0; i < 200; ++i) {
    calls.clear();
    std::istringstream lines(read_file(path));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) calls.push_back(json::parse(line));
    }
    if (calls.size() >= count) break;
    std::this_thread::sleep_for(25ms);
  }
  return calls;
}

// The value of header `name` (any case) as the API received it; "" if absent.
std::string header_of(const json& call, std::string_view name) {
  for (const auto& field : call["headers"]) {
    const auto& field_name = field[0].get_ref<const std::string&>();
    if (field_name.size() == name.size() &&
        std::equal(field_name.begin(), field_name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return field[1].get<std::string>();
    }
  }
  return {};
}

std::size_t count_header(const json& call, std::string_view name) {
  std::size_t n = 0;
  for (const auto& field : call["headers"]) n += field[0].get<std::string>() == name ? 1U : 0U;
  return n;
}

class Targets : public ::testing::Test, public BrokerFixture {
 protected:
  void SetUp() override { use_backend("sqlite"); }

  // Inserts through the CLI and returns the id; fails the test on a refusal.
  std::string insert(std::vector<std::string> args) {
    args.insert(args.begin(), "insert");
    auto out = cli(args);
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return out.out.substr(0, out.out.find('\n'));
  }

  // The terminal event's JSON payload of request `id` ("" if none yet).
  json terminal_of(const std::string& id) {
    auto listed = cli({"list", "--json"});
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
      const json event = json::parse(line);
      if (std::to_string(event["causation_id"].get<std::uint64_t>()) != id) continue;
      const std::string cls = event["class"];
      if (cls == "request-failed" || cls == "request-succeeded") return event;
    }
    return {};
  }

  void expect_finished_clean() {
    auto verified = wait_until_all_finished(60s);
    EXPECT_EQ(verified.exit_code, 0) << verified.out << read_file(dir.file("processor.err"));
  }
};

// A plain text request is still POST <api-url>/api with its body; its content type is the
// processor's default, which an environment variable sets.
TEST_F(Targets, APlainRequestIsPostedAsBefore) {
  const std::string url = start_api({});
  ASSERT_FALSE(url.empty());
  insert({"request", "hello"});
  auto processor = start_processor(url, {}, {});
  expect_finished_clean();
  processor.reset();
  auto processor2 = std::make_unique<Child>(
      std::vector<std::string>{api_broker_bin(), "--eventstore-db-path", dir.file("events.db"),
                               "process", "--api-url", url, "--lease-ttl", "1"},
      dir.file("p2.out"), dir.file("p2.err"),
      std::vector<std::string>{"API_BROKER_CONTENT_TYPE_DEFAULT=text/plain; charset=utf-8"});
  insert({"request", "second"});
  expect_finished_clean();
  const auto calls = calls_in(calls_log(), 2);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["method"], "POST");
  EXPECT_EQ(calls[0]["target"], "/api");
  EXPECT_EQ(calls[0]["body"], "hello");
  EXPECT_EQ(header_of(calls[0], "Content-Type"), "application/octet-stream");
  EXPECT_EQ(calls[1]["body"], "second");
  EXPECT_EQ(header_of(calls[1], "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_NE(cli({"list"}).out.find(R"(request {"request":"hello"})"), std::string::npos)
      << "a plain request is stored exactly as before";
}

// A target's URL, path and headers, and a request's own header replacing the target's.
TEST_F(Targets, TheApiReceivesTheTargetsAndTheRequestsHeaders) {
  const std::string url = start_api({});
  ASSERT_EQ(cli({"target", "set", "orders", "--url", url + "/v1", "--header", "X-Team: a",
                 "--header", "X-Trace: t1"})
                .exit_code,
            0);
  const std::string id =
      insert({"request", R"({"n":1})", "--target", "orders", "--path", "/orders?id=7", "--header",
              "X-Team: b", "--content-type", "application/json"});
  auto processor = start_processor(url);
  expect_finished_clean();
  const auto calls = calls_in(calls_log(), 1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["method"], "POST");
  EXPECT_EQ(calls[0]["target"], "/v1/orders?id=7");
  EXPECT_EQ(calls[0]["body"], R"({"n":1})");
  EXPECT_EQ(header_of(calls[0], "X-Team"), "b");
  EXPECT_EQ(count_header(calls[0], "X-Team"), 1u);
  EXPECT_EQ(header_of(calls[0], "X-Trace"), "t1");
  EXPECT_EQ(header_of(calls[0], "Content-Type"), "application/json");
  EXPECT_EQ(header_of(calls[0], "Api-Broker-Attempt"), "0");
  EXPECT_EQ(terminal_of(id)["class"], "request-succeeded");
}

// GET with a query and PUT with a JSON body, to URLs under the processor's --allow-url.
TEST_F(Targets, GetWithQueryAndPutWithAJsonBody) {
  const std::string url = start_api({});
  const std::string get = insert({"request", "", "--method", "get", "--url",
                                  url + "/items?page=2&size=10", "--allow-url", url});
  const std::string put =
      insert({"request", R"({"name":"x"})", "--method", "PUT", "--url", url + "/items/42",
              "--content-type", "application/json", "--allow-url", url + "/items"});
  auto processor = start_processor(url, {"--allow-url", url + "/items"});
  expect_finished_clean();
  const auto calls = calls_in(calls_log(), 2);
  ASSERT_EQ(calls.size(), 2u);
  const json& g = calls[0]["method"] == "GET" ? calls[0] : calls[1];
  const json& p = calls[0]["method"] == "GET" ? calls[1] : calls[0];
  EXPECT_EQ(g["target"], "/items?page=2&size=10");
  EXPECT_EQ(g["body"], "");
  EXPECT_EQ(p["method"], "PUT");
  EXPECT_EQ(p["target"], "/items/42");
  EXPECT_EQ(p["body"], R"({"name":"x"})");
  EXPECT_EQ(header_of(p, "Content-Type"), "application/json");
}

// One processor serves every target of its store: each API sees only its own requests.
TEST_F(Targets, SeveralTargetsFromOneProcessor) {
  ExtraApi a = start_extra_api(dir, "a");
  ExtraApi b = start_extra_api(dir, "b");
  ASSERT_FALSE(a.url.empty());
  ASSERT_FALSE(b.url.empty());
  ASSERT_EQ(cli({"target", "set", "alpha", "--url", a.url + "/a"}).exit_code, 0);
  ASSERT_EQ(cli({"target", "set", "beta", "--url", b.url + "/b"}).exit_code, 0);
  for (int i = 0; i < 5; ++i) {
    insert({"request", "to-a-" + std::to_string(i), "--target", "alpha", "--path", "/x"});
    insert({"request", "to-b-" + std::to_string(i), "--target", "beta", "--path", "/y"});
  }
  auto processor = start_processor("http://127.0.0.1:1");  // its own API is never called
  expect_finished_clean();
  const auto calls_a = calls_in(a.calls_log, 5);
  const auto calls_b = calls_in(b.calls_log, 5);
  ASSERT_EQ(calls_a.size(), 5u);
  ASSERT_EQ(calls_b.size(), 5u);
  for (const auto& call : calls_a) {
    EXPECT_EQ(call["target"], "/a/x");
    EXPECT_EQ(call["body"].get<std::string>().rfind("to-a-", 0), 0u) << call.dump();
  }
  for (const auto& call : calls_b) {
    EXPECT_EQ(call["target"], "/b/y");
    EXPECT_EQ(call["body"].get<std::string>().rfind("to-b-", 0), 0u) << call.dump();
  }
}

// A request the processor cannot send fails at once, with the reason, and calls nothing.
TEST_F(Targets, UnknownRemovedAndNotAllowedDestinationsFailWithoutACall) {
  const std::string url = start_api({});
  ASSERT_EQ(cli({"configure", "--retries", "5"}).exit_code, 0);
  const std::string unknown = insert({"request", "x", "--target", "nope"});
  ASSERT_EQ(cli({"target", "set", "gone", "--url", url}).exit_code, 0);
  ASSERT_EQ(cli({"target", "remove", "gone"}).exit_code, 0);
  const std::string removed = insert({"request", "x", "--target", "gone"});
  // Allowed at insert, but not by the processor: it checks again when it sends.
  const std::string elsewhere = insert(
      {"request", "x", "--url", "http://127.0.0.1:1/x", "--allow-url", "http://127.0.0.1:1"});
  auto processor = start_processor(url);
  expect_finished_clean();
  auto reason = [&](const std::string& id) {
    return terminal_of(id)["payload"]["reason"].get<std::string>();
  };
  EXPECT_NE(reason(unknown).find("target 'nope' is not defined"), std::string::npos)
      << reason(unknown);
  EXPECT_NE(reason(removed).find("target 'gone' was removed"), std::string::npos);
  EXPECT_NE(reason(elsewhere).find("is not allowed"), std::string::npos) << reason(elsewhere);
  EXPECT_EQ(terminal_of(unknown)["payload"]["attempts"], 1) << "no retry";
  std::this_thread::sleep_for(200ms);  // a flush of the calls log, had there been a call
  EXPECT_TRUE(calls_in(calls_log(), 0).empty());
}

// A 3xx is not followed unless the target allows it: the attempt fails with its Location.
TEST_F(Targets, ARedirectIsNotFollowedAndNamesItsLocation) {
  const std::string url = start_api({});
  ASSERT_EQ(cli({"target", "set", "moving", "--url", url}).exit_code, 0);
  const std::string id = insert({"request", "x", "--target", "moving", "--path", "/redirect/v2"});
  auto processor = start_processor(url);
  expect_finished_clean();
  const std::string reason = terminal_of(id)["payload"]["reason"];
  EXPECT_NE(reason.find("failed with HTTP 302, which is not retried: 302 Found: redirected"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("redirected to /api/v2"), std::string::npos) << reason;
  const auto calls = calls_in(calls_log(), 1);
  ASSERT_EQ(calls.size(), 1u) << "not followed";
  EXPECT_EQ(calls[0]["outcome"], "redirect");
}

// A target that allows redirects follows one to where the request could go itself (the
// target's own URL): the API sees the 302 and then the call at its Location.
TEST_F(Targets, ARedirectIsFollowedWhenTheTargetAllowsIt) {
  const std::string url = start_api({});
  ASSERT_EQ(cli({"target", "set", "moving", "--url", url, "--redirects-max", "2"}).exit_code, 0);
  const std::string id = insert({"request", "x", "--target", "moving", "--path", "/redirect/v2"});
  auto processor = start_processor(url);
  expect_finished_clean();
  EXPECT_EQ(terminal_of(id)["class"], "request-succeeded");
  const auto calls = calls_in(calls_log(), 2);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["outcome"], "redirect");
  EXPECT_EQ(calls[1]["target"], "/api/v2");
}

// Several targets from one processor, one of them down (its breaker opens, and its attempts
// wait out a long pause): the other target's requests all finish while the down one's are
// still waiting, so one partner's outage does not hold up another's calls.
TEST_F(Targets, OneTargetDownDoesNotHoldUpAnother) {
  ExtraApi up = start_extra_api(dir, "up");
  ASSERT_FALSE(up.url.empty());
  ASSERT_EQ(cli({"configure", "--retries", "3", "--backoff-initial", "0.05"}).exit_code, 0);
  ASSERT_EQ(cli({"target", "set", "down", "--url", "http://127.0.0.1:1", "--calls-max", "1",
                 "--breaker-failures", "1", "--breaker-pause", "60"})
                .exit_code,
            0);
  ASSERT_EQ(cli({"target", "set", "up", "--url", up.url, "--calls-max", "1"}).exit_code, 0);
  std::vector<std::string> to_down;
  for (int i = 0; i < 3; ++i) to_down.push_back(insert({"request", "d", "--target", "down"}));
  std::vector<std::string> to_up;
  for (int i = 0; i < 10; ++i) to_up.push_back(insert({"request", "u", "--target", "up"}));
  auto processor = start_processor("http://127.0.0.1:1");
  for (int i = 0; i < 600; ++i) {
    if (std::all_of(to_up.begin(), to_up.end(),
                    [&](const std::string& id) { return !terminal_of(id).empty(); })) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  for (const auto& id : to_up) EXPECT_EQ(terminal_of(id)["class"], "request-succeeded") << id;
  for (const auto& id : to_down) EXPECT_TRUE(terminal_of(id).empty()) << "still waiting: " << id;
  EXPECT_EQ(calls_in(up.calls_log, 10).size(), 10u);
}

// A target's retry rule replaces the default for its requests only.
TEST_F(Targets, ATargetsRetryRuleAppliesToItsRequestsOnly) {
  const std::string url = start_api({"--api-failure-rate", "1"});  // every call: 503
  ASSERT_EQ(cli({"configure", "--retries", "2", "--backoff-initial", "0.01"}).exit_code, 0);
  ASSERT_EQ(cli({"target", "set", "strict", "--url", url, "--retry-on", "0,429"}).exit_code, 0);
  const std::string strict = insert({"request", "x", "--target", "strict", "--path", "/api"});
  const std::string plain = insert({"request", "y"});
  auto processor = start_processor(url);
  expect_finished_clean();
  EXPECT_EQ(terminal_of(strict)["payload"]["attempts"], 1);
  EXPECT_EQ(terminal_of(plain)["payload"]["attempts"], 3);
}

// Secrets never enter the log: the processor resolves env: and file: references when it
// sends. Every output of every command, the processor's log and the store's files hold only
// the references; the API received the values.
TEST_F(Targets, SecretsAreSentButNeverStoredOrShown) {
  const std::string env_secret = "s3cr3t-from-the-environment-4711";
  const std::string file_secret = "s3cr3t-from-a-file-0815";
  const std::string secret_file = dir.file("token.txt");
  std::ofstream(secret_file) << file_secret << "\n";
  const std::string url = start_api({});
  std::vector<Output> outputs;
  auto run_cli = [&](std::vector<std::string> args) {
    outputs.push_back(cli(std::move(args)));
    return outputs.back();
  };
  EXPECT_EQ(run_cli({"target", "set", "partner", "--url", url, "--header",
                     "Authorization: env:API_BROKER_TEST_TOKEN"})
                .exit_code,
            0);
  const auto inserted = run_cli({"insert", "request", "body", "--target", "partner", "--path",
                                 "/api", "--header", "X-Key: file:" + secret_file});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  const std::string missing = insert({"request", "b", "--target", "partner", "--path", "/api",
                                      "--header", "X-Other: env:API_BROKER_TEST_UNSET"});
  auto processor = std::make_unique<Child>(
      std::vector<std::string>{api_broker_bin(), "--eventstore-db-path", dir.file("events.db"),
                               "process", "--api-url", url, "--lease-ttl", "1", "--log-level",
                               "debug"},
      dir.file("processor.out"), dir.file("processor.err"),
      std::vector<std::string>{"API_BROKER_TEST_TOKEN=" + env_secret});
  expect_finished_clean();
  const std::string reason = terminal_of(missing)["payload"]["reason"];
  EXPECT_NE(reason.find("environment variable API_BROKER_TEST_UNSET is not set"), std::string::npos)
      << reason;
  for (auto args : std::vector<std::vector<std::string>>{{"list"},
                                                         {"list", "--json"},
                                                         {"verify"},
                                                         {"verify", "--json"},
                                                         {"target", "list"},
                                                         {"target", "list", "--json"}}) {
    run_cli(args);
  }
  outputs.push_back(api_broker(
      {"--eventstore-db-path", dir.file("events.db"), "watch-requests", "--start-after", "0"}, {},
      2s));
  const auto calls = calls_in(calls_log(), 1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(header_of(calls[0], "Authorization"), env_secret) << "sent";
  EXPECT_EQ(header_of(calls[0], "X-Key"), file_secret) << "sent";
  processor->signal(SIGINT);
  EXPECT_EQ(processor->wait(10s), 0);

  std::string everything =
      read_file(dir.file("processor.err")) + read_file(dir.file("processor.out"));
  for (const Output& out : outputs) everything += out.out + out.err;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("events.db", 0) == 0) {
      everything += read_file(entry.path().string());  // the store, its WAL and companions
    }
  }
  EXPECT_NE(everything.find("env:API_BROKER_TEST_TOKEN"), std::string::npos);
  EXPECT_NE(everything.find("file:" + secret_file), std::string::npos);
  EXPECT_NE(outputs.back().out.find("target partner/api"), std::string::npos) << outputs.back().out;
  EXPECT_EQ(everything.find(env_secret), std::string::npos);
  EXPECT_EQ(everything.find(file_secret), std::string::npos);
}

// --- bad input: one line, exit 2, nothing stored ------------------------------------------------

TEST_F(Targets, BadRequestsAndTargetsAreRefusedAndStoreNothing) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"insert", "request", "x", "--url", "http://a.test/x"}, "is not allowed"},
      {{"insert", "request", "x", "--url", "http://a.test.evil/x", "--allow-url", "http://a.test"},
       "is not allowed"},
      {{"insert", "request", "x", "--url", "ftp://a.test/x"}, "http or https"},
      {{"insert", "request", "x", "--method", "BREW"}, "method 'BREW'"},
      {{"insert", "request", "x", "--method", "GET"}, "a GET request has no body"},
      {{"insert", "request", "x", "--target", "t", "--url", "http://a"}, "not both"},
      {{"insert", "request", "x", "--path", "/x"}, "path is only"},
      {{"insert", "request", "x", "--target", "t", "--path", "x"}, "must start with '/'"},
      {{"insert", "request", "x", "--header", "no colon"}, "Name: value"},
      {{"insert", "request", "x", "--header", "Host: evil"}, "set by the broker"},
      {{"insert", "request", "x", "--header", "Bad Name: v"}, "not a token"},
      {{"insert", "request", R"({"request":"x","method":"BREW"})"}, "method 'BREW'"},
      {{"insert", "request", R"({"request":"x","bogus":1})"}, "bogus"},
      {{"insert", "simple", "x", "--method", "GET"}, "are for a request"},
      {{"insert", "target", R"({"name":"a b","url":"http://a"})"}, "target name"},
      {{"target", "set", "a b", "--url", "http://a"}, "target name"},
      {{"target", "set", "t"}, "url is required"},
      {{"target", "set", "t", "--url", "http://a?x=1"}, "query"},
      {{"target", "set", "t", "--url", "http://a", "--retry-on", "5xx,42"}, "retry_on"},
      {{"target", "set", "t", "--url", "http://a", "--breaker-ratio", "1.5"}, "breaker_ratio"},
      {{"target", "set", "t", "--url", "http://a", "--on-timeout", "later"}, "on_timeout"},
      {{"target", "set", "t", "--url", "http://a", "--header", "Content-Length: 1"},
       "set by the broker"},
  };
  for (const auto& [args, needle] : cases) {
    const Output out = cli(args);
    EXPECT_EQ(out.exit_code, 2) << args.back() << ": " << out.err;
    EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
    EXPECT_NE(out.err.find(needle), std::string::npos) << out.err;
  }
  EXPECT_EQ(cli({"target", "remove", "nope"}).exit_code, 4);
  const Output listed = cli({"list"});
  EXPECT_EQ(listed.out, "") << "nothing was stored";
}

TEST_F(Targets, TargetSetKeepsWhatItDoesNotChangeAndListShowsReferences) {
  ASSERT_EQ(cli({"target", "set", "p", "--url", "https://p.example/v2", "--header",
                 "Authorization: env:TOKEN", "--retry-on", "0,5xx", "--calls-max", "4"})
                .exit_code,
            0);
  ASSERT_EQ(cli({"target", "set", "p", "--rate", "2.5"}).exit_code, 0);
  const Output listed = cli({"target", "list"});
  EXPECT_NE(listed.out.find("https://p.example/v2"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("Authorization: env:TOKEN"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("retry-on=0,5xx calls-max=4 rate=2.5"), std::string::npos)
      << listed.out;
  ASSERT_EQ(cli({"target", "remove", "p"}).exit_code, 0);
  EXPECT_EQ(cli({"target", "list"}).out.find("p.example"), std::string::npos);
  const Output events = cli({"list"});
  EXPECT_EQ(std::count(events.out.begin(), events.out.end(), '\n'), 3) << events.out;
  EXPECT_NE(events.out.find(" target {"), std::string::npos) << events.out;
}

}  // namespace
}  // namespace api_broker::testing
