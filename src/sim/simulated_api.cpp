#include "simulated_api.hpp"

#include <fmt/format.h>

namespace api_broker::sim {

using namespace std::chrono_literals;

ApiProfile draw_api_profile(Random& random, TimePoint start, Duration length) {
  ApiProfile p;
  p.server_error = random.unit() * 0.5;
  p.too_many = random.unit() * 0.15;
  p.client_error = random.chance(0.5) ? random.unit() * 0.05 : 0.0;
  p.dropped = random.unit() * 0.15;
  p.silent = random.chance(0.5) ? random.unit() * 0.1 : 0.0;
  p.latency_low = random.between(Duration(100), Duration(5ms));
  p.latency_high = p.latency_low + random.between(Duration(0), Duration(200ms));
  p.slow = random.unit() * 0.1;
  p.slow_low = random.between(Duration(100ms), Duration(2s));
  p.slow_high = p.slow_low + random.between(Duration(0), Duration(20s));
  if (random.chance(0.4)) {
    p.outage_from = start + random.between(Duration(0), length);
    p.outage_until = p.outage_from + random.between(Duration(100ms), Duration(30s));
  }
  return p;
}

SimulatedApi::SimulatedApi(Scheduler& scheduler, Random random, ApiProfile profile)
    : scheduler_(scheduler), random_(random), profile_(profile) {}

Scheduler::Handle SimulatedApi::receive(const broker::ApiCall& call, const Answer& answer) {
  const TimePoint now = scheduler_.now();
  calls_.push_back(ReceivedCall{.request = events::to_int(call.request),
                                .attempt = call.attempt,
                                .idempotency_key = std::string(call.idempotency_key),
                                .at = now});
  auto unavailable = [](std::string text) -> Result<http::Response> {
    return fail(Errc::unavailable, std::move(text));
  };
  if (now >= profile_.outage_from && now < profile_.outage_until) {
    return scheduler_.after(random_.between(Duration(0), Duration(1ms)),
                            [answer, unavailable] { answer(unavailable("connection refused")); });
  }
  // One draw decides the kind of answer, another its latency.
  const double kind = random_.unit();
  Duration latency = random_.chance(profile_.slow)
                         ? random_.between(profile_.slow_low, profile_.slow_high)
                         : random_.between(profile_.latency_low, profile_.latency_high);
  Result<http::Response> result = http::Response{.status = 200, .body = "ok"};
  double edge = profile_.server_error;
  static constexpr int server_errors[] = {500, 502, 503, 504};
  static constexpr int client_errors[] = {400, 404, 409, 422};
  if (kind < edge) {
    result = http::Response{.status = server_errors[random_.between(0, 3)], .body = "busy"};
  } else if (kind < (edge += profile_.too_many)) {
    http::Response response{.status = 429, .body = "slow down"};
    if (random_.chance(0.8)) {
      response.retry_after_seconds = 0.5 * static_cast<double>(random_.between(0, 6));
    }
    result = response;
  } else if (kind < (edge += profile_.client_error)) {
    result = http::Response{.status = client_errors[random_.between(0, 3)], .body = "refused"};
  } else if (kind < (edge += profile_.dropped)) {
    result = unavailable("connection closed without a response");
  } else if (kind < edge + profile_.silent) {
    latency = Duration::max();
  } else {
    result = http::Response{.status = 200, .body = fmt::format("done {}", call.idempotency_key)};
  }
  // The caller's limit ends the call first; with no limit, a silent server's connection is
  // closed by TCP keep-alive after two minutes.
  const Duration limit = call.limit.count() > 0 ? Duration(call.limit) : Duration(120s);
  if (latency >= limit) {
    latency = limit;
    result = call.limit.count() > 0
                 ? unavailable(fmt::format("call exceeded limit of {} ms", call.limit.count()))
                 : unavailable("connection closed without a response");
  }
  return scheduler_.after(latency,
                          [answer, result = std::move(result)]() mutable { answer(result); });
}

}  // namespace api_broker::sim
