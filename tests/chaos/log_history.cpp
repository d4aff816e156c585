#include "chaos/log_history.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "api_broker/limits.hpp"

namespace api_broker::chaos {
namespace {

std::int64_t micros_of(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

class HistoryBuilder {
 public:
  void add(const events::Envelope& envelope) {
    ++history_.events;
    const std::uint64_t id = events::to_int(envelope.id);
    if (std::holds_alternative<events::Request>(envelope.event)) {
      RequestHistory request{.id = id,
                             .idempotency_key = envelope.external_uuid
                                                    ? events::to_string(*envelope.external_uuid)
                                                    : fmt::format("api-broker-{}", id)};
      keys_[id] = request.idempotency_key;
      history_.requests[request.idempotency_key] = std::move(request);
      return;
    }
    const auto key = keys_.find(events::to_int(envelope.causation_id));
    if (key == keys_.end()) return;  // not caused by a request: verify reports it
    RequestHistory& request = history_.requests[key->second];
    std::visit(
        [&](const auto& event) {
          using E = std::decay_t<decltype(event)>;
          if constexpr (std::is_same_v<E, events::ApiRequest>) {
            ++history_.attempts;
            request.attempts[event.attempt].started_event = id;
          } else if constexpr (std::is_same_v<E, events::ApiResponse>) {
            request.attempts[event.attempt].answered = true;
          } else if constexpr (std::is_same_v<E, events::ApiFailure>) {
            request.attempts[event.attempt].failed = true;
          } else if constexpr (std::is_same_v<E, events::ApiTimeout>) {
            request.attempts[event.attempt].timed_out = true;
          } else if constexpr (std::is_same_v<E, events::RequestSucceeded> ||
                               std::is_same_v<E, events::RequestFailed>) {
            if (request.terminal_events.empty()) {
              request.terminal_created_us = micros_of(envelope.created);
              request.succeeded = std::is_same_v<E, events::RequestSucceeded>;
            }
            request.terminal_events.push_back(id);
          }
        },
        envelope.event);
  }

  void add_unreadable() { ++history_.unreadable; }
  LogHistory finish() { return std::move(history_); }

 private:
  LogHistory history_;
  std::unordered_map<std::uint64_t, std::string> keys_;  // request id -> idempotency key
};

}  // namespace

Result<LogHistory> read_history(const store::StoreOptions& options) {
  auto opened = store::open_store(options);
  if (!opened) return fail(std::move(opened).error());
  store::EventStore& store = **opened;
  HistoryBuilder builder;
  events::EventId after{};
  for (;;) {
    auto batch = store.read_after(after, limits::read_batch_max);
    if (!batch) {
      if (batch.error().code == Errc::corrupt && batch.error().related_id != 0) {
        builder.add_unreadable();
        after = events::EventId{batch.error().related_id};
        continue;
      }
      return fail(std::move(batch).error());
    }
    if (batch->empty()) break;
    for (const events::Envelope& envelope : *batch) builder.add(envelope);
    after = batch->back().id;
  }
  if (auto closed = store.close(); !closed) return fail(std::move(closed).error());
  return builder.finish();
}

}  // namespace api_broker::chaos
