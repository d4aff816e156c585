#pragma once
// Invariants of a simulated run that the log alone cannot show, checked against what the
// simulated API received and when the processor was down. The log's own rules are
// broker::Auditor's (audit.hpp); these add:
//   - every call the API received belongs to a request, after that attempt's api-request was
//     committed and before the terminal event of the attempt's round (a request-retried starts
//     a new round), and not for an attempt started after a request-cancelled of its round (a
//     call after the cancel); no attempt was sent twice; every
//     attempt of a request carried the same Idempotency-Key, and no other request's;
//   - a request with a deadline has its terminal event no later than one attempt timeout (plus
//     `slack`, the store's latency) after the deadline, unless the processor was down in
//     between or the request waited for a place beyond the in-flight bound.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api_broker/core/target_limits.hpp"
#include "api_broker/events/envelope.hpp"
#include "simulated_api.hpp"

namespace api_broker::sim {

struct Downtime {
  TimePoint from{};
  TimePoint until{};
};

std::vector<std::string> check_calls(const std::vector<events::Envelope>& log,
                                     const std::vector<ReceivedCall>& calls);

// The default target's limits, per processor (a paused one's calls may overlap its
// successor's): at most calls_max calls out at once, and the attempts it let go (its
// api-request appends, by owner) within what the token bucket allows: over any span T below a
// second, at most burst + T / interval. Exact: the append is the moment the token is taken
// (the call itself may wait longer for a store that fails reads).
std::vector<std::string> check_target_limits(
    const core::TargetLimits& limits, std::uint64_t calls_at_once_max_seen,
    const std::map<std::string, std::vector<TimePoint>>& attempt_times);

std::vector<std::string> check_deadlines(const std::vector<events::Envelope>& log,
                                         const std::vector<Downtime>& downtimes,
                                         const std::set<std::uint64_t>& parked, Duration slack);

}  // namespace api_broker::sim
