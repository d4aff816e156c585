#pragma once
// The read model (the query half of CQRS): every request of the log, its phase, its attempts,
// indexed for the HTTP service's GET /v1/requests (listing by phase and target with a cursor),
// GET /v1/requests/{id} (detail, long poll) and counts. It is a fold of the log, like the
// processor's state: each request goes through the one state machine (core::start/evolve/
// phase) under the policy and target rule in force when it arrived, as the processor has them.
//
//   RequestView: pure and single-threaded; apply() every event in id order.
//   LiveView (live_view.hpp): a follower thread on its own store connection keeps a
//                RequestView current; readers take a shared lock (read, wait_until).
//
// Phases change as events arrive (a retried request is unfinished again), so nothing here
// assumes that a finished request stays finished.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/core/request_machine.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/time.hpp"

namespace api_broker::view {

// One attempt of a request.
struct AttemptView {
  std::uint32_t number = 0;  // 0-based, as api-request numbers it
  TimePoint started_at{};
  std::optional<TimePoint> ended_at{};  // its first answer, failure or timeout
  core::AttemptResult result = core::AttemptResult::in_flight;
  std::int32_t status = 0;  // HTTP status of its answer or failure; 0 = none
  // The failure's text, or the first bytes of the answer's body; cut to
  // limits::view_excerpt_bytes_max.
  std::string excerpt{};
  friend bool operator==(const AttemptView&, const AttemptView&) = default;
};

// What a listing shows of a request.
struct RequestSummary {
  events::EventId id{};                         // the request event's id
  std::optional<events::Uuid> external_uuid{};  // as the client gave it
  std::string target{};                         // "" = none (a plain or URL request)
  std::string method{};                         // as sent: "POST" for a plain request
  std::string destination{};                    // broker::describe_destination()
  core::Phase phase = core::Phase::waiting;
  TimePoint requested_at{};
  std::optional<TimePoint> finished_at{};  // created of its terminal event (the newest round)
  std::uint32_t attempts = 0;              // started so far, all rounds
  std::string reason{};                    // request-failed's reason; "" otherwise
  friend bool operator==(const RequestSummary&, const RequestSummary&) = default;
};

struct RequestDetail {
  RequestSummary summary;
  std::string body_excerpt{};  // the request's body, cut to limits::view_excerpt_bytes_max
  std::vector<AttemptView> attempts{};
  // When the next attempt is due (backing off), per core::decide; unset otherwise.
  std::optional<TimePoint> next_attempt_at{};
  friend bool operator==(const RequestDetail&, const RequestDetail&) = default;
};

// The order of a listing: by id, ascending (oldest first) or descending (newest first).
enum class ListOrder : std::uint8_t { oldest_first, newest_first };

// Requests after the cursor `after` in `order`, at most `limit` (capped at
// limits::view_page_max), of `phase` and `target` when given. Oldest first: the ids above
// `after`; newest first: the ids below `after`, or from the newest when `after` is 0. Either
// way a page's next_after, given as `after`, is the page that follows.
struct ListQuery {
  std::optional<core::Phase> phase{};
  std::optional<std::string> target{};  // "" = requests naming no target
  events::EventId after{};
  std::size_t limit = 100;
  ListOrder order = ListOrder::oldest_first;
};

struct ListPage {
  std::vector<RequestSummary> items;
  events::EventId next_after{};  // the cursor for the next page; 0 = no more
};

struct Counts {
  std::uint64_t waiting = 0, in_flight = 0, backing_off = 0, succeeded = 0, failed = 0;
  [[nodiscard]] std::uint64_t total() const {
    return waiting + in_flight + backing_off + succeeded + failed;
  }
  [[nodiscard]] std::uint64_t of(core::Phase phase) const;
  friend bool operator==(const Counts&, const Counts&) = default;
};

// The fold. Pure and single-threaded; move-only. Odd events (unknown causes, out of order,
// after the end, undecodable fields) never assert: the state machine records them as
// anomalies and the view stays consistent.
// Costs (n requests): apply O(1) amortized (O(log n) for a request's later events); list
// O(log n + page); counts O(1); detail O(log n); find O(1).
class RequestView {
 public:
  RequestView();
  ~RequestView();
  RequestView(RequestView&&) noexcept;
  RequestView& operator=(RequestView&&) noexcept;
  RequestView(const RequestView&) = delete;
  RequestView& operator=(const RequestView&) = delete;

  // Every event of the log, in id order; an id not above last_applied() changes nothing.
  void apply(const events::Envelope& envelope);
  [[nodiscard]] events::EventId last_applied() const;

  [[nodiscard]] std::optional<RequestSummary> summary(events::EventId request) const;
  [[nodiscard]] std::optional<RequestDetail> detail(events::EventId request) const;
  // The state machine's state of a request the view keeps whole (unfinished or failed), for
  // the checks of a cancel or a retry; nullptr for one that succeeded (only its summary is
  // kept) or is unknown. Valid until the next apply().
  [[nodiscard]] const core::RequestState* state(events::EventId request) const;
  // The request stored with this external UUID (only request events are indexed).
  [[nodiscard]] std::optional<events::EventId> find(const events::Uuid& external) const;
  [[nodiscard]] ListPage list(const ListQuery& query) const;
  [[nodiscard]] Counts counts() const;
  [[nodiscard]] Counts counts(std::string_view target) const;

  // Memory held, in bytes (approximate: the containers' capacities), for benches and metrics.
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api_broker::view
