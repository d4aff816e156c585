#pragma once
// The remote API of a simulated run: from its seed it answers, fails (5xx, 429 with or without
// Retry-After, 4xx), drops the connection, answers late (after the attempt timeout) or never,
// and goes through outages where every call is refused. It records every call it receives,
// for the checks that no attempt was sent twice and nothing was sent after a request finished.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api_broker/broker/processor_ports.hpp"
#include "api_broker/http/response.hpp"
#include "random.hpp"
#include "scheduler.hpp"

namespace api_broker::sim {

// How the API behaves in one run; drawn from the seed by draw_api_profile().
struct ApiProfile {
  // Chances of each kind of answer; what is left answers 200.
  double server_error = 0;  // 500, 502, 503 or 504
  double too_many = 0;      // 429, with a Retry-After of 0-3 s most of the time
  double client_error = 0;  // 400, 404, 409 or 422: not retried
  double dropped = 0;       // the connection closes without a response
  double silent = 0;        // no answer ever: the call runs into its limit
  Duration latency_low{}, latency_high{};
  double slow = 0;  // chance of a latency in [slow_low, slow_high] instead, often past timeouts
  Duration slow_low{}, slow_high{};
  // Every call between these is refused at once.
  TimePoint outage_from{}, outage_until{};
};

ApiProfile draw_api_profile(Random& random, TimePoint start, Duration length);

// One call as the API received it.
struct ReceivedCall {
  std::uint64_t request = 0;
  std::uint32_t attempt = 0;
  std::string idempotency_key;
  TimePoint at{};
};

class SimulatedApi {
 public:
  using Answer = std::function<void(Result<http::Response>)>;

  SimulatedApi(Scheduler& scheduler, Random random, ApiProfile profile);

  // The call arrives now; `answer` runs when the caller gets its result, unless the returned
  // task is cancelled (the caller went away or gave up).
  Scheduler::Handle receive(const broker::ApiCall& call, const Answer& answer);

  [[nodiscard]] const std::vector<ReceivedCall>& calls() const { return calls_; }
  [[nodiscard]] const ApiProfile& profile() const { return profile_; }

 private:
  Scheduler& scheduler_;
  Random random_;
  ApiProfile profile_;
  std::vector<ReceivedCall> calls_;
};

}  // namespace api_broker::sim
