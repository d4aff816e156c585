#pragma once
// The read model kept current: a follower thread on its own store connection applies the log
// to a RequestView; the HTTP service reads it under a shared lock and long-polls with
// wait_until().

#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "api_broker/result.hpp"
#include "api_broker/stop_signal.hpp"
#include "api_broker/store/event_store.hpp"
#include "api_broker/time.hpp"
#include "api_broker/view/request_view.hpp"

namespace api_broker::view {

// How LiveView reaches the store: one connection of its own (broker::StoreOpener's type).
using StoreOpener = std::function<Result<std::unique_ptr<store::EventStore>>()>;

struct LiveViewOptions {
  // Wait before opening the store again after it failed.
  std::chrono::milliseconds reopen_delay{500};
  // Told of every store error and corrupt row (then skipped); called on the follower thread.
  std::function<void(const Error&)> on_error{};
  // Handed each batch after the view applied it, outside the lock, on the follower thread:
  // another fold of the same log (the service's metrics) rides on this one read of it.
  std::function<void(std::span<const events::Envelope>)> on_applied{};
};

// A RequestView kept current by a follower thread: it rebuilds the view from the whole log at
// start (see docs/ARCHITECTURE.md, "Read model"), then applies each appended batch under an
// exclusive lock and wakes wait_until(). Readers run under a shared lock. Thread-safe.
class LiveView {
 public:
  explicit LiveView(StoreOpener open_store, LiveViewOptions options = {});
  ~LiveView();  // stops and joins the follower
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // Runs `f` on the view under a shared lock; keep it short (no I/O).
  void read(const std::function<void(const RequestView&)>& f) const;

  // Blocks until `pred(view)` holds (checked at once, then after each applied batch), the
  // `deadline` passes or `stop` is raised; returns pred's last value. `pred` runs under the
  // shared lock.
  bool wait_until(const std::function<bool(const RequestView&)>& pred, TimePoint deadline,
                  const StopSignal& stop) const;

  // The follower reached the end of the log once since it started (the view was rebuilt) and
  // its store has not failed since (for /readyz).
  [[nodiscard]] bool caught_up() const;

  // Stops the follower and joins it (the destructor does it too); reads keep working on the
  // last state.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api_broker::view
