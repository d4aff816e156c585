#include "api_broker/store/store_wait.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace api_broker::store {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds first_delay{100};
constexpr std::chrono::milliseconds delay_max{5000};
constexpr std::chrono::seconds report_every{30};

}  // namespace

StoreWait::StoreWait(const StopSignal& stop, std::function<void(const std::string&)> report)
    : stop_(stop), report_(std::move(report)) {}

bool StoreWait::wait(const Error& error) {
  const auto now = std::chrono::steady_clock::now();
  if (!reported_at_ || now - *reported_at_ >= report_every) {
    if (report_) report_(fmt::format("waiting for the event store: {}", error.message));
    reported_at_ = now;
  }
  delay_ = delay_ == 0ms ? first_delay : std::min(delay_ * 2, delay_max);
  return !stop_.wait_for(delay_);
}

void StoreWait::reset() {
  delay_ = 0ms;
  reported_at_.reset();
}

Result<std::unique_ptr<EventStore>> open_when_reachable(
    const Opener& open, const StopSignal& stop,
    const std::function<void(const std::string&)>& report) {
  StoreWait wait(stop, report);
  for (;;) {
    if (stop.stop_requested()) return fail(Errc::cancelled, "stopped");
    auto opened = open();
    if (opened) {
      // Opening may succeed lazily: the store answers only once it is read.
      auto last = (*opened)->last_id();
      if (last) return opened;
      if (!StoreWait::waitable(last.error())) return fail(std::move(last).error());
      if (!wait.wait(last.error())) return fail(Errc::cancelled, "stopped");
      continue;
    }
    if (!StoreWait::waitable(opened.error())) return opened;
    if (!wait.wait(opened.error())) return fail(Errc::cancelled, "stopped");
  }
}

Result<void> follow_reconnecting(const Opener& open, EventId after, const StopSignal& stop,
                                 const std::function<bool(const Envelope&)>& sink,
                                 const std::function<bool(const Error&)>& on_corrupt,
                                 const std::function<void(const std::string&)>& report) {
  EventId position = after;
  bool reconnecting = false;
  for (;;) {
    auto store = open_when_reachable(open, stop, report);
    if (!store) {
      if (store.error().code == Errc::cancelled) return {};
      return fail(std::move(store).error());
    }
    if (reconnecting && report) {
      report(fmt::format("reconnected to the event store: following on after event {}",
                         events::to_int(position)));
    }
    auto followed = follow(
        **store, position, stop,
        [&](const Envelope& envelope) {
          position = envelope.id;
          return sink(envelope);
        },
        on_corrupt);
    if (followed || !StoreWait::waitable(followed.error())) return followed;
    if (report) {
      report(fmt::format("lost the event store ({}): reconnecting", followed.error().message));
    }
    (void)(*store)->close();
    reconnecting = true;
  }
}

}  // namespace api_broker::store
