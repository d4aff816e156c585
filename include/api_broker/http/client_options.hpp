#pragma once
// The bounds and hooks of the HTTP client, without the client: whoever configures it (the
// processor's options, the CLI) needs no Asio.

#include <chrono>
#include <cstddef>
#include <functional>

#include "api_broker/limits.hpp"

namespace api_broker::http {

struct ClientOptions {
  // A longer body is cut to this many bytes and Response::truncated is set.
  std::size_t response_bytes_stored_max = limits::response_bytes_stored_default;
  // A longer body fails the call ("response body larger than N bytes"); it is not read.
  std::size_t body_bytes_read_max = limits::response_read_bytes_max;
  // Open connections per (host, port); further calls wait in a FIFO queue. At least 1. Each
  // takes a descriptor: see limits::http_connections_for.
  std::size_t connections_max = limits::http_connections_max;
  // Idle keep-alive connections kept per (host, port); one more going idle closes the oldest.
  std::size_t idle_connections_max = limits::http_idle_connections_max;
  // An idle connection unused this long is closed; 0 = kept until the server closes it.
  std::chrono::milliseconds idle_timeout = limits::http_idle_timeout;
  // Unfinished calls (queued or on a connection); post() beyond fails with Errc::unavailable.
  // Above requests_in_flight_max because an attempt that timed out may still be in flight.
  std::size_t calls_max = 4 * limits::requests_in_flight_max;
  // Resolving plus connecting one new connection; 0 = no bound other than the call's limit.
  std::chrono::milliseconds connect_timeout{5000};
  // Asked right before each request is written; false fails the call with Errc::fenced and
  // sends nothing (the processor: its lease is not known to be held). Unset: always send.
  std::function<bool()> may_send;
};

}  // namespace api_broker::http
