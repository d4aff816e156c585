#pragma once
// What the event log says happened to each request, read through the store library after a
// chaos run: its attempts (api-request events) and what was recorded for each, and its
// terminal events.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api_broker/result.hpp"
#include "api_broker/store/open_store.hpp"

namespace api_broker::chaos {

struct AttemptHistory {
  std::uint64_t started_event = 0;  // id of its api-request event
  bool answered = false;            // an api-response was recorded
  bool failed = false;              // an api-failure was recorded
  bool timed_out = false;           // an api-timeout was recorded
};

struct RequestHistory {
  std::uint64_t id = 0;
  std::string idempotency_key;  // the external UUID, or api-broker-<id>: what the API sees
  std::map<std::uint32_t, AttemptHistory> attempts;
  std::vector<std::uint64_t> terminal_events;  // ids of request-succeeded / request-failed
  std::int64_t terminal_created_us = 0;        // of the first terminal event
  bool succeeded = false;
};

struct LogHistory {
  std::uint64_t events = 0;
  std::map<std::string, RequestHistory> requests;  // by idempotency key
  std::uint64_t attempts = 0;                      // api-request events
  std::uint64_t unreadable = 0;                    // rows that did not decode
};

// Reads the whole log of the store `options` selects.
Result<LogHistory> read_history(const store::StoreOptions& options);

}  // namespace api_broker::chaos
