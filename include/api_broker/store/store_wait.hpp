#pragma once
// Waiting for a store that cannot be reached (Errc::unavailable): a command started while the
// database is down, or a follower whose database restarted, tries again after a delay that
// doubles from 100 ms up to 5 s, and says so now and then instead of
// exiting. Errors that waiting cannot fix (a bad URL, a wrong password, a file that is not a
// store, a schema too new) are not waited for.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api_broker/result.hpp"
#include "api_broker/stop_signal.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::store {

class StoreWait {
 public:
  // `report` gets one line: on the first wait, then about every 30 s while it lasts.
  StoreWait(const StopSignal& stop, std::function<void(const std::string&)> report);

  // Whether `error` is one to wait for (the store cannot be reached right now).
  [[nodiscard]] static bool waitable(const Error& error) { return error.code == Errc::unavailable; }
  // Waits before the next try, reporting `error` ("waiting for the event store: ...") now and
  // then. False when a stop is raised meanwhile.
  bool wait(const Error& error);
  // The store answered: the next wait starts from the shortest delay and is reported.
  void reset();

 private:
  const StopSignal& stop_;
  std::function<void(const std::string&)> report_;
  std::chrono::milliseconds delay_{0};
  std::optional<std::chrono::steady_clock::time_point> reported_at_;
};

using Opener = std::function<Result<std::unique_ptr<EventStore>>()>;

// Opens the store with `open`, waiting while it is unreachable. Returns the store, the error
// that waiting cannot fix, or Errc::cancelled once `stop` is raised.
Result<std::unique_ptr<EventStore>> open_when_reachable(
    const Opener& open, const StopSignal& stop,
    const std::function<void(const std::string&)>& report);

// As follow(), over a store opened with `open`: when the store cannot be reached (at the start
// or after a restart), it says so through `report`, waits, opens it again and follows on after
// the last event handed to `sink`: no gap, no repeat.
Result<void> follow_reconnecting(const Opener& open, EventId after, const StopSignal& stop,
                                 const std::function<bool(const Envelope&)>& sink,
                                 const std::function<bool(const Error&)>& on_corrupt,
                                 const std::function<void(const std::string&)>& report);

}  // namespace api_broker::store
