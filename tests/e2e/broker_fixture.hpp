#pragma once
// A store in a temp directory and the real binaries around it: the brittle API, processors,
// CLI calls. Shared by the end-to-end broker tests.

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {

class BrokerFixture {
 public:
  std::string db() const { return dir.file("events.db"); }

  Output cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--eventstore-db-path", db()});
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

  std::unique_ptr<Child> start_processor(const std::string& url,
                                         std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{api_broker_bin(),
                                  "--eventstore-db-path",
                                  db(),
                                  "process",
                                  "--api-url",
                                  url,
                                  "--lease-ttl",
                                  "1"};
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
  std::unique_ptr<Child> api;
  int port = 0;
};

}  // namespace api_broker::testing
