#pragma once
// A store (SQLite in a temp directory, a fresh PostgreSQL or MongoDB database) and the real
// binaries around it: the brittle API, processors, CLI calls. Shared by the end-to-end tests.

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "conformance/mongo_fixture.hpp"
#include "conformance/postgresql_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {

class BrokerFixture {
 public:
  // The store the binaries use: "sqlite" (a file in `dir`), "postgresql" (a fresh database
  // on $API_BROKER_PG_URL's cluster) or "mongodb" (a fresh database on the server that
  // $API_BROKER_MONGODB_URL names). Empty when the backend cannot run here, with the reason
  // in `unavailable`.
  void use_backend(const std::string& name) {
    if (name == "sqlite") {
      store_args = {"--eventstore-db-path", dir.file("events.db")};
      return;
    }
    if (name == "mongodb") {
      mongo = std::make_unique<MongoFixture>();
      unavailable = mongo->unavailable_reason();
      if (!unavailable.empty()) return;
      store_args = {"--eventstore-driver",  "mongodb",        "--eventstore-url", mongo->url(),
                    "--eventstore-db-name", mongo->database()};
      (void)mongo->open();  // creates the collections before processes race for them
      return;
    }
    postgres = std::make_unique<PostgresFixture>();
    unavailable = postgres->unavailable_reason();
    if (!unavailable.empty()) return;
    std::string url = postgres->admin_url();
    url = url.substr(0, url.rfind('/') + 1) + postgres->database();
    store_args = {"--eventstore-driver", "postgresql", "--eventstore-url", url};
    (void)postgres->open();  // creates the schema before processes race for it
  }

  Output cli(std::vector<std::string> args) {
    args.insert(args.begin(), store_args.begin(), store_args.end());
    return api_broker(args);
  }

  // Starts the brittle API on a free port; returns its URL.
  std::string start_api(const std::vector<std::string>& flags) {
    std::vector<std::string> argv{api_broker_bin(), "brittle-api", "serve",
                                  "127.0.0.1:0",    "--calls-log", calls_log()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    api = std::make_unique<Child>(argv, dir.file("api.out"), dir.file("api.err"));
    for (int i = 0; i < 1000; ++i) {
      const std::string err = read_file(dir.file("api.err"));
      const auto at = err.find("listening on 127.0.0.1:");
      if (at != std::string::npos) {
        const auto start = at + std::string("listening on 127.0.0.1:").size();
        port = std::stoi(err.substr(start, err.find_first_not_of("0123456789", start) - start));
        return "http://127.0.0.1:" + std::to_string(port);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
  }

  // `launcher` goes before the binary (e.g. {"prlimit", "--nofile=64:64", "--"}).
  std::unique_ptr<Child> start_processor(const std::string& url,
                                         std::vector<std::string> extra = {},
                                         std::vector<std::string> launcher = {}) {
    std::vector<std::string> argv = std::move(launcher);
    argv.push_back(api_broker_bin());
    argv.insert(argv.end(), store_args.begin(), store_args.end());
    argv.insert(argv.end(), {"process", "--api-url", url, "--lease-ttl", "1"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(argv, dir.file("processor.out"), dir.file("processor.err"));
  }

  // Inserts `count` requests through the CLI; returns their ids.
  std::vector<std::string> insert_requests(int count, const std::string& prefix = "req") {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto out = cli({"insert", "request", prefix + std::to_string(i)});
      if (out.exit_code != 0) return ids;
      ids.push_back(out.out.substr(0, out.out.size() - 1));
    }
    return ids;
  }

  // Polls `verify --all-finished` until it passes or `bound` passes; returns the last output.
  Output wait_until_all_finished(std::chrono::seconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    Output out;
    do {
      out = cli({"verify", "--all-finished"});
      if (out.exit_code == 0) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < until);
    return out;
  }

  std::string calls_log() const { return dir.file("calls.jsonl"); }

  TempDir dir;
  std::vector<std::string> store_args;
  std::unique_ptr<PostgresFixture> postgres;
  std::unique_ptr<MongoFixture> mongo;
  std::string unavailable;
  std::unique_ptr<Child> api;
  int port = 0;
};

}  // namespace api_broker::testing
