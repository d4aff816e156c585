#pragma once
// One simulated run, entirely determined by its seed: clients insert requests (some with an
// external UUID, some inserted twice) and configuration events over a window of simulated
// time; the processor runs against the simulated API and an in-memory store with injected
// faults, and crashes at random moments (all in-memory state dropped) to restart from the
// store. It holds the processor lease (TTL drawn per seed); in some seeds it is paused past
// its TTL, a standby takes over, and the paused one must find out it lost the lease when it
// resumes. The run goes on until nothing is left to do, then a last restart must append
// nothing. The report holds every violated invariant: broker::Auditor's over the log (with
// every request required to finish) and check_calls / check_deadlines / check_target_limits.
// Clients cancel some requests and retry some failed ones (issue 12), as the commands do.
// Half of the worlds give the default target limits (calls at once, a rate, a circuit breaker,
// keep or abandon on timeout), drawn apart from the rest of the world.

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api_broker/events/envelope.hpp"
#include "api_broker/time.hpp"

namespace api_broker::sim {

struct SimulationReport {
  std::uint64_t seed = 0;
  std::uint64_t requests = 0;
  std::uint64_t events = 0;
  std::uint64_t attempts = 0;
  std::uint64_t api_calls = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t crashes = 0;
  std::uint64_t pauses = 0;         // of the acting processor, each longer than the lease's TTL
  std::uint64_t takeovers = 0;      // by a standby, of the lease of a paused processor
  std::uint64_t lost_fenced = 0;    // processors that found out they lost by a fenced commit
  std::uint64_t lost_renewing = 0;  // ... by a renewal
  std::uint64_t held_back = 0;      // calls held back because the lease was not known held
  std::uint64_t store_faults = 0;
  std::uint64_t parked = 0;               // requests that waited for a place
  std::uint64_t breaker_transitions = 0;  // breaker events in the log
  std::uint64_t cancels = 0;              // request-cancelled events (clients cancel some)
  std::uint64_t rounds = 0;               // request-retried that started a round
  std::uint64_t calls_at_once_max = 0;    // most calls one processor had out at once
  std::uint64_t steps = 0;                // scheduler tasks run
  Duration simulated{};                   // simulated time from the first insert to the end
  std::string log_digest;                 // hash of the whole log: equal for equal seeds
  std::vector<std::string> violations;
  std::vector<std::string> downtimes;     // when the processor was down, as text
  std::vector<events::Envelope> history;  // the whole log, when asked for
  [[nodiscard]] bool ok() const { return violations.empty(); }
};

// `log`: the processor's log lines (a null sink unless asked for). `keep_history`: return the
// log's events in the report.
SimulationReport simulate(std::uint64_t seed, std::shared_ptr<spdlog::logger> log,
                          bool keep_history = false);

}  // namespace api_broker::sim
