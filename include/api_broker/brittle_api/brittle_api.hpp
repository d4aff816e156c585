#pragma once
// The brittle API: an HTTP server that simulates an unreliable remote API, for the demo, the
// end-to-end tests, the benchmarks and chaos tests of api-broker.
//
//   GET|HEAD /up  -> 200 ("ok")
//   /redirect...  -> 302 Found with Location /api... (what follows /redirect), any method
//   any other method and path (POST /api, GET /orders?id=1, ...): a call of the API -> after a
//                    random latency in [min_latency, max_latency] seconds: 200 with the body
//                    reversed by Unicode code point (invalid UTF-8 bytes are reversed as single
//                    bytes; none to HEAD), or 503, or the connection is closed unanswered
//   GET /stats    -> {"calls":N,"succeeded":N,"failed":N,"dropped":N,"in_flight":N,"keys":K,
//                     "max_calls_per_key":M,"keys_overflow":false}
//   GET /stats/keys -> {"<Idempotency-Key>":calls,...} for the keys seen on calls
//   other methods on /up and /stats -> 400; bodies over body_bytes_max -> 413
//
// HTTP/1.1 with keep-alive, over TLS when Options::tls_cert_file is set (https); malformed
// requests close the connection. One thread and one event
// loop serve every connection, so thousands of slow requests cost no thread each.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api_broker/result.hpp"

namespace api_broker::brittle_api {

// Largest request body accepted; larger ones get 413 and the connection is closed.
inline constexpr std::size_t body_bytes_max = std::size_t{1024} * 1024;
// Distinct Idempotency-Key values counted; later new keys are not (Stats::keys_overflow).
inline constexpr std::size_t keys_max = 1'000'000;
// Longer Idempotency-Key values are not counted either (they would make the map unbounded).
inline constexpr std::size_t key_bytes_max = 256;
// Connections served at once; further ones are accepted and closed at once.
inline constexpr std::size_t connections_max = 16384;
// Longest latency accepted in Options, in seconds (one day).
inline constexpr double latency_seconds_max = 86400;
// A connection with no request for this long is closed (HTTP keep-alive timeout).
inline constexpr std::chrono::seconds idle_timeout{120};

struct Options {
  double min_latency = 0;          // seconds, >= 0
  double max_latency = 0;          // seconds, >= min_latency
  double failure_rate = 0;         // in [0, 1]: share of POST /api calls that fail
  double silent_failure_rate = 0;  // in [0, 1]: share of failures that drop the connection
  // Seeds the one random generator (std::mt19937_64). Each call takes three draws when it
  // arrives (latency, failure, silence), so the same seed and the same order of arrivals (one
  // client sending sequentially) give the same latencies and outcomes. Absent, a seed is
  // drawn from std::random_device (see Server::seed()).
  std::optional<std::uint64_t> seed = std::nullopt;
  // Fencing tokens, as a partner API may check them: a call whose Api-Broker-Lease-Epoch
  // header is below the largest epoch seen so far was sent by a processor that has lost its
  // lease; it is answered 409 without doing the work (outcome "stale").
  bool reject_stale_epochs = false;
  // Given, one JSON line per call (and redirect) is appended here when its outcome is applied:
  // {"t_us":<unix microseconds>,"key":"<Idempotency-Key>",
  //  "outcome":"ok|503|dropped|stale|redirect", "latency_ms":<double>,
  //  "received_us":<unix microseconds when the call was read>,
  //  "attempt":<the Api-Broker-Attempt header, 0-based, or null>, "method":"GET",
  //  "target":"/orders?id=1","headers":[["Name","value"],...],"body":"..."}. Buffered; flushed
  // every 100 ms and when the server stops.
  std::string calls_log_path = {};
  // Given (with tls_key_file), every connection is TLS (https): the PEM certificate chain and
  // private key the server presents. Connections whose handshake fails are closed unserved.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
  // Given (with TLS), mutual TLS: clients must present a certificate signed by a CA of this
  // PEM file, else the handshake fails.
  std::string tls_client_ca_file = {};
};

// Counters of POST /api calls since the server started. calls == succeeded + failed +
// dropped + stale + in_flight, except for calls abandoned by stop(), which stay in no bucket.
struct Stats {
  std::uint64_t calls = 0;
  std::uint64_t succeeded = 0;  // answered 200
  std::uint64_t failed = 0;     // answered 503
  std::uint64_t dropped = 0;    // closed unanswered
  std::uint64_t stale = 0;      // answered 409: a lease epoch below one seen before
  std::uint64_t in_flight = 0;  // waiting for their latency to elapse
  std::uint64_t keys = 0;       // distinct Idempotency-Key values counted
  std::uint64_t max_calls_per_key = 0;
  bool keys_overflow = false;  // some key was not counted (keys_max or key_bytes_max)
};

// Checks the rates are in [0, 1] and the latencies in [0, latency_seconds_max] with
// min <= max, and that a TLS certificate comes with its key (and a client CA with TLS).
// Errc::invalid_input with a one-line message otherwise.
Result<void> validate(const Options& options);

// A running brittle API on its own thread. Thread-safe: every method may be called from any
// thread except the server's own. stop() or the destructor ends it.
class Server {
 public:
  // Validates `options`, listens on `address` ("HOST:PORT": an IPv4 address, "[IPv6]",
  // "localhost", or empty for all IPv4 interfaces; port 0 picks a free port) and starts
  // serving. Errc::invalid_input for bad options or addresses, Errc::unavailable when the
  // address cannot be listened on (in use, not permitted) or the calls log cannot be opened;
  // Errc::invalid_input too for a TLS file that cannot be read or used.
  static Result<std::unique_ptr<Server>> start(std::string_view address, const Options& options);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();  // stop()s

  [[nodiscard]] std::uint16_t port() const;
  // The address listened on, e.g. "0.0.0.0:8080" or "[::1]:8080".
  [[nodiscard]] std::string address() const;
  // Where a client on this host reaches it, e.g. "http://127.0.0.1:8080" ("http://[::1]:8080"
  // for IPv6, "https://..." with TLS); a wildcard address is reported as the loopback address.
  [[nodiscard]] std::string url() const;
  // The seed in use: Options::seed, or the one drawn. Log it to replay a run.
  [[nodiscard]] std::uint64_t seed() const;
  [[nodiscard]] Stats stats() const;
  // Closes the listener and every connection (calls in flight are abandoned unanswered),
  // joins the server thread and flushes the calls log. Idempotent.
  void stop();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Serves in the foreground until `stop_requested()` returns true (polled every 100 ms; the
// CLI wires SIGINT/SIGTERM to it), then stops. Logs one line to stderr with the URL, the
// options and the seed. Raises the soft limit of open files to the hard limit, since every
// connection takes one. Returns the error if the server cannot start.
Result<void> serve(std::string_view address, const Options& options,
                   const std::function<bool()>& stop_requested);

}  // namespace api_broker::brittle_api
