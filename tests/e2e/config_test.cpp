// --config FILE and --log-format with the real binary: a value in the file is used, its
// environment variable beats it, a flag beats both; a bad file is one line naming the file,
// the line and the key; json logs are one JSON object a line that tell a request's story.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "e2e/broker_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;

class ConfigFile : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name)) << text;
    return dir_.file(name);
  }
  bool exists(const std::string& name) const {
    struct stat info {};
    return stat(dir_.file(name).c_str(), &info) == 0;
  }
  // The file names the database; `insert` creates it where the winning source says.
  std::string config_naming(const std::string& db) {
    return write("api-broker.toml", "eventstore-db-path = \"" + dir_.file(db) + "\"\n");
  }
  static void expect_one_line_error(const Output& output, const std::vector<std::string>& words) {
    EXPECT_EQ(output.exit_code, 2) << output.err;
    EXPECT_EQ(std::count(output.err.begin(), output.err.end(), '\n'), 1) << output.err;
    for (const std::string& word : words) {
      EXPECT_NE(output.err.find(word), std::string::npos) << word << " missing in " << output.err;
    }
    EXPECT_EQ(output.err.find("terminate"), std::string::npos) << output.err;
  }
  TempDir dir_;
};

TEST_F(ConfigFile, AValueInTheFileIsUsed) {
  const std::string config = config_naming("file.db");
  const auto inserted = api_broker({"--config", config, "insert", "simple", "x"});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_TRUE(exists("file.db"));
}

TEST_F(ConfigFile, ItsPathCanComeFromTheEnvironment) {
  const std::string config = config_naming("file.db");
  const auto inserted = api_broker({"insert", "simple", "x"}, {"API_BROKER_CONFIG=" + config});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_TRUE(exists("file.db"));
}

TEST_F(ConfigFile, TheEnvironmentBeatsTheFile) {
  const std::string config = config_naming("file.db");
  const auto inserted = api_broker({"--config", config, "insert", "simple", "x"},
                                   {"EVENTSTORE_DB_PATH=" + dir_.file("env.db")});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_TRUE(exists("env.db"));
  EXPECT_FALSE(exists("file.db"));
}

TEST_F(ConfigFile, AFlagBeatsTheEnvironmentAndTheFile) {
  const std::string config = config_naming("file.db");
  const auto inserted = api_broker(
      {"--config", config, "--eventstore-db-path", dir_.file("flag.db"), "insert", "simple", "x"},
      {"EVENTSTORE_DB_PATH=" + dir_.file("env.db")});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  EXPECT_TRUE(exists("flag.db"));
  EXPECT_FALSE(exists("env.db"));
  EXPECT_FALSE(exists("file.db"));
}

TEST_F(ConfigFile, ACommandsTableSetsItsOptionsAndVectors) {
  // `insert`'s --header (a vector) and --url from its table, the request's fields checked.
  const std::string config = write("c.toml", "eventstore-db-path = \"" + dir_.file("events.db") +
                                                 "\"\n[insert]\nurl = \"http://127.0.0.1:9/x\"\n"
                                                 "allow-url = [\"http://127.0.0.1:9/\"]\n"
                                                 "header = [\"A: 1\", \"B: 2\"]\n");
  const auto inserted = api_broker({"--config", config, "insert", "request", "body"});
  ASSERT_EQ(inserted.exit_code, 0) << inserted.err;
  const auto listed = api_broker({"--config", config, "list", "--json"});
  EXPECT_NE(listed.out.find("http://127.0.0.1:9/x"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"B\""), std::string::npos) << listed.out;
}

// The shape the installed systemd unit runs: `api-broker --config FILE serve --process`
// with every section of the example config.
TEST_F(ConfigFile, AFullExampleConfigRunsServeWithTheProcessor) {
  BrokerFixture broker;
  const std::string url = broker.start_api({});
  ASSERT_FALSE(url.empty());
  const std::string config = write("api-broker.toml",
                                   "# api-broker: global options at the top\n"
                                   "eventstore-driver = \"sqlite\"\n"
                                   "eventstore-db-path = \"" +
                                       dir_.file("events.db") +
                                       "\"\n"
                                       "eventstore-sync = \"normal\"\n"
                                       "log-format = \"json\"\n"
                                       "\n"
                                       "[serve]\n"
                                       "listen = \"127.0.0.1:0\"\n"
                                       "process = true\n"
                                       "api-url = \"" +
                                       url +
                                       "\"\n"
                                       "lease-ttl = 1\n"
                                       "log-level = \"info\"\n"
                                       "\n"
                                       "[process]\n"
                                       "api-url = \"" +
                                       url +
                                       "\"\n"
                                       "in-flight-max = 100\n"
                                       "\n"
                                       "[list]\n"
                                       "json = true\n");
  ASSERT_EQ(api_broker({"--config", config, "insert", "request", "hello"}).exit_code, 0);
  Child serve({api_broker_bin(), "--config", config, "serve"}, dir_.file("serve.out"),
              dir_.file("serve.err"));
  Output verified;
  for (int i = 0; i < 150; ++i) {
    verified = api_broker({"--config", config, "verify", "--all-finished"});
    if (verified.exit_code == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(verified.exit_code, 0) << verified.out << read_file(dir_.file("serve.err"));
  // listen from the file: port 0 is any free one, not the default 8080.
  const std::string out = read_file(dir_.file("serve.out"));
  EXPECT_NE(out.find("listening on http://127.0.0.1:"), std::string::npos) << out;
  EXPECT_EQ(out.find(":8080"), std::string::npos) << out;
  // [list] json = true
  EXPECT_NE(api_broker({"--config", config, "list"}).out.find("\"class\":\"request\""),
            std::string::npos);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(10s), 0) << read_file(dir_.file("serve.err"));
}

// The example config the package installs (packaging/api-broker.toml, when this tree has
// it) parses, every key an option of its command; its store path is overridden by a flag.
TEST_F(ConfigFile, TheInstalledExampleConfigParses) {
  const std::string example = std::string(API_BROKER_SOURCE_DIR) + "/packaging/api-broker.toml";
  if (read_file(example).empty()) GTEST_SKIP() << "no " << example << " in this tree";
  const auto inserted = api_broker({"--config", example, "--eventstore-db-path",
                                    dir_.file("events.db"), "insert", "simple", "x"});
  EXPECT_EQ(inserted.exit_code, 0) << inserted.err;
}

TEST_F(ConfigFile, ABadFileIsOneLineNamingTheFileTheLineAndTheKey) {
  struct Case {
    std::string text;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases{
      {"# fine\nno-such-option = 1\n", {"bad.toml", "line 2", "no-such-option", "not a global"}},
      {"[serve]\nlisten = \"x:1\"\nlisen = \"x\"\n",
       {"bad.toml", "line 3", "serve.lisen", "`serve`"}},
      {"[nothing]\na = 1\n", {"bad.toml", "line 2", "[nothing] is not a command"}},
      {"[serve]\nprocess = \"yes\"\n", {"bad.toml", "line 2", "serve.process", "true or false"}},
      {"[process]\n\nin-flight-max = \"lots\"\n",
       {"bad.toml", "line 3", "process.in-flight-max", "lots"}},
      {"log-format = \"xml\"\n", {"bad.toml", "line 1", "log-format", "xml"}},
      {"eventstore-db-path = [\"a\", \"b\"]\n", {"bad.toml", "line 1", "not an array"}},
      {"a = 1\neventstore-db-path \"x\"\n", {"bad.toml", "line 2", "expected '='"}},
      {"eventstore-db-path = \"open\n", {"bad.toml", "line 1", "not closed"}},
      {"config = \"other.toml\"\n", {"bad.toml", "line 1", "config"}},
  };
  for (const Case& c : cases) {
    const std::string config = write("bad.toml", c.text);
    const auto out = api_broker({"--config", config, "list"});
    expect_one_line_error(out, c.says);
    EXPECT_FALSE(exists("api-broker.db")) << c.text;
  }
}

// A value CLI11 takes but the command refuses when it runs: still where it is in the file.
TEST_F(ConfigFile, AValueTheCommandRefusesNamesItsLine) {
  const std::string config =
      write("bad.toml", "[serve]\nlease-ttl = 2\n\n[process]\nlease-ttl = 9999\n");
  expect_one_line_error(api_broker({"--config", config, "process"}),
                        {"bad.toml", "line 5", "process.lease-ttl", "--lease-ttl must be"});
}

TEST_F(ConfigFile, AMissingFileIsOneLine) {
  expect_one_line_error(api_broker({"--config", dir_.file("none.toml"), "list"}),
                        {"none.toml", "not readable"});
  expect_one_line_error(api_broker({"list"}, {"API_BROKER_CONFIG=" + dir_.file("none.toml")}),
                        {"none.toml", "not readable"});
}

TEST(LogFormat, ABadFormatIsOneLine) {
  const auto out = api_broker({"--log-format", "xml", "list"});
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
  EXPECT_NE(out.err.find("--log-format"), std::string::npos) << out.err;
}

// Every line the processor writes is a JSON object, and each event of a request is one of
// them at debug, with its id, class and request id: jq can follow a request's story.
TEST(LogFormat, JsonDebugLogsTellEachRequestsStory) {
  BrokerFixture broker;
  broker.use_backend("sqlite");
  const std::string url =
      broker.start_api({"--api-failure-rate", "0.5", "--api-silent-failure-rate", "0"});
  ASSERT_FALSE(url.empty());
  ASSERT_EQ(broker.cli({"configure", "--retries", "5", "--backoff-initial", "0.01"}).exit_code, 0);
  const auto ids = broker.insert_requests(5);
  ASSERT_EQ(ids.size(), 5u);
  std::vector<std::string> argv{api_broker_bin(), "--log-format", "json"};
  argv.insert(argv.end(), broker.store_args.begin(), broker.store_args.end());
  argv.insert(argv.end(), {"process", "--api-url", url, "--log-level", "debug"});
  Child processor(argv, broker.dir.file("json.out"), broker.dir.file("json.err"));
  const auto verified = broker.wait_until_all_finished(60s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out;
  processor.signal(SIGINT);
  EXPECT_EQ(processor.wait(10s), 0);
  std::istringstream log(read_file(broker.dir.file("json.err")));
  std::map<std::int64_t, std::set<std::string>> classes_of_request;
  std::size_t lines = 0;
  for (std::string line; std::getline(log, line); ++lines) {
    nlohmann::json json;
    ASSERT_NO_THROW(json = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(json.is_object()) << line;
    for (const char* key : {"time", "level", "logger", "message"}) {
      EXPECT_TRUE(json.contains(key)) << key << " missing in " << line;
    }
    if (json.contains("request_id")) {
      EXPECT_TRUE(json.contains("event_id")) << line;
      classes_of_request[json["request_id"].get<std::int64_t>()].insert(
          json["class"].get<std::string>());
    }
  }
  EXPECT_GT(lines, 0u);
  for (const std::string& id : ids) {
    const auto& classes = classes_of_request[std::stoll(id)];
    EXPECT_TRUE(classes.count("request")) << id;
    EXPECT_TRUE(classes.count("api-request")) << id;
    EXPECT_TRUE(classes.count("request-succeeded") || classes.count("request-failed")) << id;
  }
}

}  // namespace
}  // namespace api_broker::testing
