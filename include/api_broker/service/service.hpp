#pragma once
// The HTTP service (`api-broker serve`): the JSON API under /v1 (submit requests, read their
// state, follow the log, cancel and retry), /healthz and /readyz, on one listener, plain or
// TLS, behind Bearer tokens; with `process` set it also runs the processor in the process.
// docs/API.md describes the API.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api_broker/broker/destination.hpp"
#include "api_broker/broker/processor.hpp"
#include "api_broker/broker/processor_options.hpp"
#include "api_broker/result.hpp"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace api_broker::service {

struct ServiceOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  // Bearer tokens: full access, and read-only (GET only). With none, the service listens only
  // on a loopback address.
  std::vector<std::string> tokens;
  std::vector<std::string> read_tokens;
  // Files of more tokens, one a line ('#' comments): full, and read-only. "" = none.
  std::string token_file, read_token_file;
  std::string tls_cert_file, tls_key_file;  // both or neither: https on the listener
  // Prefixes a submitted request's `url` must be under (as `insert --allow-url`).
  std::vector<broker::UrlPrefix> allowed;
  // Set: the processor runs in this process with these options.
  std::optional<broker::ProcessorOptions> process;
  std::shared_ptr<spdlog::logger> log;  // required
};

class Service {
 public:
  // Checks the options, opens the store, starts the listener and the threads. One-line
  // Errc::invalid_input for bad options (a token too short, no token on a non-loopback
  // address, unreadable TLS files), Errc::unavailable when the port is taken or the store
  // cannot be opened.
  static Result<std::unique_ptr<Service>> start(const ServiceOptions& options,
                                                broker::StoreOpener open_store);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  [[nodiscard]] std::string address() const;  // "127.0.0.1:8080"
  [[nodiscard]] std::string url() const;      // "http://127.0.0.1:8080"
  // Blocks until `stop` is raised or the processor (with `process`) ends with an error, which
  // it returns; then stops everything gracefully.
  Result<void> run_until(const StopSignal& stop);
  void stop();

  class Impl;

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace api_broker::service
