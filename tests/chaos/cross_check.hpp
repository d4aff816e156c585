#pragma once
// Compares the three records of a chaos run: what the clients were told (stored or not), what
// the log says (read_history) and what the API saw (its calls log and counters).

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chaos/api_record.hpp"
#include "chaos/inserters.hpp"
#include "chaos/log_history.hpp"

namespace api_broker::chaos {

struct CrossCheck {
  std::uint64_t requests = 0;  // acknowledged to the clients
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t attempts = 0;   // api-request events in the log
  std::uint64_t api_calls = 0;  // POST /api calls the API received (its own count)
  // Attempts recorded in the log that the API never received: the processor was killed
  // after committing the api-request and before the call reached the API.
  std::uint64_t attempts_not_received = 0;
  // Calls for attempts that started after an attempt of the same request the API had
  // answered with success: the API received the request again after it had done it.
  std::uint64_t duplicates = 0;
  std::uint64_t duplicated_requests = 0;  // requests with at least one such call
  // ...because the processor waiting for that success was killed, and its successor
  // recorded the attempt as timed out and retried;
  std::uint64_t duplicates_after_kill = 0;
  // ...because that success came after the attempt's timeout, when a retry was under way.
  std::uint64_t duplicates_after_timeout = 0;
  // Calls that arrived after their request's terminal event was stored, although their
  // attempt was recorded before it (a call already on its way when the request finished).
  std::uint64_t calls_after_terminal = 0;
  // Acknowledged requests missing from the log or without a terminal event. Must be 0.
  std::uint64_t requests_lost = 0;
  // Calls that do not match exactly one attempt the log records before the request's
  // terminal event: a second call of one attempt, a call of an attempt recorded after the
  // terminal event or not at all, a call without an attempt or for an unknown key. Must be 0.
  std::uint64_t terminal_resent = 0;
  std::vector<std::string> problems;  // each broken rule, the first few of each kind
};

// (request id, attempt) of every attempt a restarted processor recorded as timed out.
using RestartTimeouts = std::set<std::pair<std::uint64_t, std::uint32_t>>;

// Reads them from the processors' log lines ("request R: attempt N was started before a
// restart; ...").
RestartTimeouts restart_timeouts_in(const std::string& processor_log);

CrossCheck cross_check(const std::vector<Insert>& inserts, const LogHistory& log,
                       const std::vector<ApiCall>& calls,
                       const std::map<std::string, std::uint64_t>& calls_per_key,
                       const RestartTimeouts& restart_timeouts);

}  // namespace api_broker::chaos
