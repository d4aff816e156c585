#include "api_broker/view/request_view.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <memory>
#include <unordered_map>
#include <utility>

#include "api_broker/broker/call_builder.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/events/utf8.hpp"
#include "api_broker/limits.hpp"
#include "position_set.hpp"
#include "text_arena.hpp"
#include "uuid_index.hpp"

namespace api_broker::view {
namespace {

constexpr std::size_t phases = 5;
constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();

std::size_t index_of(core::Phase phase) { return static_cast<std::size_t>(phase); }

std::int64_t to_us(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_us(std::int64_t us) { return TimePoint{Duration{us}}; }
std::optional<TimePoint> optional_time(std::int64_t us) {
  if (us == no_time) return std::nullopt;
  return from_us(us);
}

std::string_view excerpt(std::string_view text) {
  return events::utf8_prefix(text, limits::view_excerpt_bytes_max);
}

// An attempt of a finished request, packed.
struct PackedAttempt {
  std::int64_t started_us = 0;
  std::int64_t ended_us = no_time;
  std::int32_t status = 0;
  core::AttemptResult result = core::AttemptResult::in_flight;
  TextRef excerpt{};
};

// What the view keeps of every request: the summary's fields, packed, and where its attempts
// are once it finished.
struct Record {
  std::uint64_t id = 0;
  std::int64_t requested_us = 0;
  std::int64_t finished_us = no_time;
  events::Uuid uuid{};
  std::uint32_t target = 0;       // index in Impl::targets
  std::uint32_t target_slot = 0;  // its place in that target's positions
  std::uint32_t attempts = 0;
  std::uint32_t packed_first = 0;  // its attempts in Impl::packed, once packed
  TextRef method{};
  TextRef destination{};
  TextRef reason{};
  TextRef body{};
  core::Phase phase = core::Phase::waiting;
  bool has_uuid = false;
  bool packed = false;  // succeeded: its state was dropped, its attempts packed
};

// A request whose state is kept: unfinished, or failed (a retry may reopen it).
struct Open {
  core::RequestState state;
  // Per attempt number: the answer's status and the first bytes of its body (from api-response).
  std::vector<std::pair<std::int32_t, std::string>> answers{};
  TimePoint last_event_at{};
};

// The requests naming one target ("" = none): their positions in order, and per phase the
// places (in `positions`) of those in it.
struct TargetIndex {
  std::string name;
  std::vector<std::uint32_t> positions;
  std::array<PositionSet, phases> by_phase{};
  std::array<std::uint64_t, phases> counts{};
};

}  // namespace

std::uint64_t Counts::of(core::Phase phase) const {
  switch (phase) {
    case core::Phase::waiting:
      return waiting;
    case core::Phase::in_flight:
      return in_flight;
    case core::Phase::backing_off:
      return backing_off;
    case core::Phase::succeeded:
      return succeeded;
    case core::Phase::failed:
      return failed;
  }
  return 0;
}

namespace {
Counts to_counts(const std::array<std::uint64_t, phases>& n) {
  return Counts{
      .waiting = n[0], .in_flight = n[1], .backing_off = n[2], .succeeded = n[3], .failed = n[4]};
}
}  // namespace

struct RequestView::Impl {
  Impl()
      : uuids([this](std::uint32_t position) -> const events::Uuid& {
          return records[position].uuid;
        }) {}

  events::EventId last{};
  core::Policy policy{};
  std::shared_ptr<const broker::Targets> targets = std::make_shared<const broker::Targets>();

  std::deque<Record> records;  // by position = arrival order = id order
  std::deque<PackedAttempt> packed;
  TextArena texts;
  UuidIndex uuids;
  std::unordered_map<std::uint32_t, Open> open;  // by position
  std::array<PositionSet, phases> by_phase{};
  std::array<std::uint64_t, phases> counts{};
  std::vector<TargetIndex> target_index;
  std::unordered_map<std::string, std::uint32_t> target_ids;

  [[nodiscard]] std::optional<std::uint32_t> position_of(events::EventId id) const {
    const auto it =
        std::lower_bound(records.begin(), records.end(), events::to_int(id),
                         [](const Record& r, std::uint64_t value) { return r.id < value; });
    if (it == records.end() || it->id != events::to_int(id)) return std::nullopt;
    return static_cast<std::uint32_t>(it - records.begin());
  }
  // The first position with an id above `after`.
  [[nodiscard]] std::uint32_t first_after(events::EventId after) const {
    const auto it =
        std::upper_bound(records.begin(), records.end(), events::to_int(after),
                         [](std::uint64_t value, const Record& r) { return value < r.id; });
    return static_cast<std::uint32_t>(it - records.begin());
  }

  // The position of the first request with an id >= `id` (records.size() if none).
  [[nodiscard]] std::uint32_t first_at_or_after(events::EventId id) const {
    const auto it =
        std::lower_bound(records.begin(), records.end(), events::to_int(id),
                         [](const Record& r, std::uint64_t value) { return r.id < value; });
    return static_cast<std::uint32_t>(it - records.begin());
  }

  std::uint32_t target_id(const std::string& name) {
    if (const auto it = target_ids.find(name); it != target_ids.end()) return it->second;
    const auto id = static_cast<std::uint32_t>(target_index.size());
    target_index.push_back(TargetIndex{.name = name});
    target_ids.emplace(name, id);
    return id;
  }

  void enter(std::uint32_t position, core::Phase phase) {
    Record& r = records[position];
    TargetIndex& t = target_index[r.target];
    by_phase[index_of(phase)].insert(position);
    ++counts[index_of(phase)];
    t.by_phase[index_of(phase)].insert(r.target_slot);
    ++t.counts[index_of(phase)];
    r.phase = phase;
  }
  void leave(std::uint32_t position) {
    const Record& r = records[position];
    TargetIndex& t = target_index[r.target];
    by_phase[index_of(r.phase)].erase(position);
    --counts[index_of(r.phase)];
    t.by_phase[index_of(r.phase)].erase(r.target_slot);
    --t.counts[index_of(r.phase)];
  }
  void move(std::uint32_t position, core::Phase phase) {
    if (records[position].phase == phase) return;
    leave(position);
    enter(position, phase);
  }

  // The processor retries a request to a target under the target's rule in force (as verify
  // does); a plain request, or one to an unknown or removed target, under the default.
  [[nodiscard]] core::RetryRule rule_for(std::string_view target) const {
    if (auto found = broker::find_target(*targets, target); !target.empty() && found) {
      return (*found)->retry_on;
    }
    return {};
  }
  [[nodiscard]] core::RetryRule rule_for(const Record& r) const {
    return rule_for(target_index[r.target].name);
  }

  void add_request(const events::Envelope& envelope, const events::Request& request) {
    if (records.size() >= std::numeric_limits<std::uint32_t>::max() - 1) return;
    const core::RetryRule rule = rule_for(request.target);
    const auto position = static_cast<std::uint32_t>(records.size());
    Record r;
    r.id = events::to_int(envelope.id);
    r.requested_us = to_us(envelope.created);
    r.target = target_id(request.target);
    TargetIndex& t = target_index[r.target];
    r.target_slot = static_cast<std::uint32_t>(t.positions.size());
    t.positions.push_back(position);
    r.method =
        texts.intern(request.method.empty() ? std::string_view("POST") : excerpt(request.method));
    // Destinations and bodies are mostly unique: stored, not interned.
    r.destination = texts.add(
        events::utf8_prefix(broker::describe_destination(request), TextArena::text_bytes_max));
    r.body = texts.add(excerpt(request.request));
    if (envelope.external_uuid) {
      r.uuid = *envelope.external_uuid;
      r.has_uuid = true;
    }
    records.push_back(r);
    if (r.has_uuid) uuids.insert(r.uuid, position);
    Open opened{core::start(envelope, policy, rule)};
    opened.last_event_at = envelope.created;
    enter(position, core::phase(opened.state));
    open.emplace(position, std::move(opened));
  }

  void add_caused(const events::Envelope& envelope) {
    const auto position = position_of(envelope.causation_id);
    if (!position) return;  // caused by no request: an odd event
    const auto it = open.find(*position);
    if (it == open.end()) return;  // succeeded and packed: the machine would ignore it
    Open& o = it->second;
    // The terminal event read before this one (0: none).
    const events::EventId terminal_before =
        o.state.terminal ? o.state.terminal->event : events::no_event;
    const bool was_terminal = core::is_terminal(o.state);
    o.state = core::evolve(std::move(o.state), envelope);
    o.last_event_at = std::max(o.last_event_at, envelope.created);
    if (was_terminal && !core::is_terminal(o.state)) {
      // A request-retried started a new round: like the processor and verify
      // (core::start_round), it runs under the policy and target rule in force now.
      o.state.policy = policy;
      o.state.retry_on = rule_for(records[*position]);
    }
    if (const auto* answer = std::get_if<events::ApiResponse>(&envelope.event);
        answer != nullptr && answer->attempt < o.state.attempts.size()) {
      if (o.answers.size() <= answer->attempt) o.answers.resize(answer->attempt + 1);
      auto& kept = o.answers[answer->attempt];
      if (kept.first == 0) kept = {answer->status, std::string(excerpt(answer->response))};
    }
    Record& r = records[*position];
    r.attempts = static_cast<std::uint32_t>(o.state.attempts.size());
    if (core::is_terminal(o.state)) {
      const bool new_terminal = terminal_before != o.state.terminal->event;
      if (new_terminal) {
        r.finished_us = to_us(envelope.created);
        r.reason = texts.intern(excerpt(o.state.terminal->reason));
      }
    } else {
      r.finished_us = no_time;
      r.reason = {};
    }
    move(*position, core::phase(o.state));
    if (core::is_terminal(o.state) && r.phase == core::Phase::succeeded) pack(*position, o);
  }

  // A request that succeeded keeps only its record and packed attempts: nothing reopens it.
  void pack(std::uint32_t position, const Open& o) {
    Record& r = records[position];
    r.packed_first = static_cast<std::uint32_t>(packed.size());
    for (std::size_t i = 0; i < o.state.attempts.size(); ++i) {
      const AttemptView a = attempt_view(o, i);
      packed.push_back(PackedAttempt{
          .started_us = to_us(a.started_at),
          .ended_us = a.ended_at ? to_us(*a.ended_at) : no_time,
          .status = a.status,
          .result = a.result,
          .excerpt = texts.intern(a.excerpt),
      });
    }
    r.packed = true;
    open.erase(position);
  }

  static AttemptView attempt_view(const Open& o, std::size_t number) {
    const core::Attempt& a = o.state.attempts[number];
    AttemptView v{.number = static_cast<std::uint32_t>(number),
                  .started_at = a.started_at,
                  .ended_at = a.finished_at ? a.finished_at : a.answered_at,
                  .result = a.result,
                  .status = a.status,
                  .excerpt = std::string(excerpt(a.failure))};
    if (a.result == core::AttemptResult::succeeded && number < o.answers.size()) {
      v.status = o.answers[number].first;
      v.excerpt = o.answers[number].second;
    }
    return v;
  }

  [[nodiscard]] RequestSummary summary(std::uint32_t position) const {
    const Record& r = records[position];
    RequestSummary s{.id = events::EventId{r.id},
                     .external_uuid = r.has_uuid ? std::optional(r.uuid) : std::nullopt,
                     .target = target_index[r.target].name,
                     .method = std::string(texts.get(r.method)),
                     .destination = std::string(texts.get(r.destination)),
                     .phase = r.phase,
                     .requested_at = from_us(r.requested_us),
                     .finished_at = optional_time(r.finished_us),
                     .attempts = r.attempts,
                     .reason = std::string(texts.get(r.reason))};
    return s;
  }

  [[nodiscard]] RequestDetail detail(std::uint32_t position) const {
    const Record& r = records[position];
    RequestDetail d{.summary = summary(position), .body_excerpt = std::string(texts.get(r.body))};
    if (r.packed) {
      for (std::uint32_t i = 0; i < r.attempts; ++i) {
        const PackedAttempt& a = packed[r.packed_first + i];
        d.attempts.push_back(AttemptView{.number = i,
                                         .started_at = from_us(a.started_us),
                                         .ended_at = optional_time(a.ended_us),
                                         .result = a.result,
                                         .status = a.status,
                                         .excerpt = std::string(texts.get(a.excerpt))});
      }
      return d;
    }
    const auto it = open.find(position);
    if (it == open.end()) return d;
    const Open& o = it->second;
    for (std::size_t i = 0; i < o.state.attempts.size(); ++i) {
      d.attempts.push_back(attempt_view(o, i));
    }
    if (r.phase == core::Phase::backing_off) {
      // decide() at the newest event's time names the next attempt's time (or says it is due).
      for (const core::Action& action : core::decide(o.state, o.last_event_at)) {
        if (const auto* s = std::get_if<core::ScheduleAttempt>(&action)) d.next_attempt_at = s->at;
        if (std::holds_alternative<core::StartAttempt>(action)) d.next_attempt_at = o.last_event_at;
      }
    }
    return d;
  }
};

RequestView::RequestView() : impl_(std::make_unique<Impl>()) {}
RequestView::~RequestView() = default;
RequestView::RequestView(RequestView&&) noexcept = default;
RequestView& RequestView::operator=(RequestView&&) noexcept = default;

void RequestView::apply(const events::Envelope& envelope) {
  Impl& v = *impl_;
  if (events::to_int(envelope.id) <= events::to_int(v.last)) return;
  v.last = envelope.id;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, events::Configuration>) {
          if (auto next = core::apply(v.policy, e)) v.policy = *next;  // invalid: ignored
        } else if constexpr (std::is_same_v<T, events::Target>) {
          if (auto next = v.targets->with(e)) v.targets = std::move(*next);
        } else if constexpr (std::is_same_v<T, events::Request>) {
          v.add_request(envelope, e);
        } else if constexpr (std::is_same_v<T, events::Simple> ||
                             std::is_same_v<T, events::BreakerOpened> ||
                             std::is_same_v<T, events::BreakerHalfOpened> ||
                             std::is_same_v<T, events::BreakerClosed>) {
        } else {
          v.add_caused(envelope);  // attempts, answers, terminal, cancel, retry
        }
      },
      envelope.event);
}

events::EventId RequestView::last_applied() const { return impl_->last; }

std::optional<RequestSummary> RequestView::summary(events::EventId request) const {
  const auto position = impl_->position_of(request);
  if (!position) return std::nullopt;
  return impl_->summary(*position);
}

std::optional<RequestDetail> RequestView::detail(events::EventId request) const {
  const auto position = impl_->position_of(request);
  if (!position) return std::nullopt;
  return impl_->detail(*position);
}

const core::RequestState* RequestView::state(events::EventId request) const {
  const auto position = impl_->position_of(request);
  if (!position) return nullptr;
  const auto it = impl_->open.find(*position);
  return it == impl_->open.end() ? nullptr : &it->second.state;
}

std::optional<events::EventId> RequestView::find(const events::Uuid& external) const {
  const auto position = impl_->uuids.find(external);
  if (!position) return std::nullopt;
  return events::EventId{impl_->records[*position].id};
}

ListPage RequestView::list(const ListQuery& query) const {
  const Impl& v = *impl_;
  ListPage page;
  const std::size_t limit = std::min(query.limit, limits::view_page_max);
  if (limit == 0) return page;
  const TargetIndex* target = nullptr;
  if (query.target) {
    const auto it = v.target_ids.find(*query.target);
    if (it == v.target_ids.end()) return page;
    target = &v.target_index[it->second];
  }
  const bool newest_first = query.order == ListOrder::newest_first;
  // step(p): the first position that matches the query from `p` on in the listing's order
  // (>= p oldest first, <= p newest first), if any.
  std::function<std::optional<std::uint32_t>(std::uint32_t)> step;
  if (target == nullptr && !query.phase) {
    step = [&](std::uint32_t p) -> std::optional<std::uint32_t> {
      if (p >= v.records.size()) return std::nullopt;
      return p;
    };
  } else if (target == nullptr) {
    const PositionSet& set = v.by_phase[index_of(*query.phase)];
    step = [&](std::uint32_t p) { return newest_first ? set.previous(p) : set.next(p); };
  } else {
    // Within the target: its places from the first at or after `p` (the last at or before).
    step = [&, target](std::uint32_t p) -> std::optional<std::uint32_t> {
      const auto& positions = target->positions;
      auto slot = static_cast<std::uint32_t>(
          std::lower_bound(positions.begin(), positions.end(), p) - positions.begin());
      if (newest_first) {
        if (slot == positions.size() || positions[slot] != p) {
          if (slot == 0) return std::nullopt;
          --slot;  // the last place before p
        }
      }
      if (!query.phase) {
        if (slot >= positions.size()) return std::nullopt;
        return positions[slot];
      }
      const PositionSet& set = target->by_phase[index_of(*query.phase)];
      const auto found = newest_first ? set.previous(slot) : set.next(slot);
      if (!found) return std::nullopt;
      return positions[*found];
    };
  }
  // Where the page starts, and the position after `p` in the listing's order.
  std::optional<std::uint32_t> position;
  auto after = [&](std::uint32_t p) -> std::optional<std::uint32_t> {
    if (!newest_first) return step(p + 1);
    if (p == 0) return std::nullopt;
    return step(p - 1);
  };
  if (!newest_first) {
    position = step(v.first_after(query.after));
  } else {
    const std::uint32_t end = query.after == events::EventId{}
                                  ? static_cast<std::uint32_t>(v.records.size())
                                  : v.first_at_or_after(query.after);
    position = end == 0 ? std::nullopt : step(end - 1);
  }
  while (position && page.items.size() < limit) {
    page.items.push_back(v.summary(*position));
    position = after(*position);
  }
  if (position && !page.items.empty()) page.next_after = page.items.back().id;
  return page;
}

Counts RequestView::counts() const { return to_counts(impl_->counts); }

Counts RequestView::counts(std::string_view target) const {
  const auto it = impl_->target_ids.find(std::string(target));
  if (it == impl_->target_ids.end()) return {};
  return to_counts(impl_->target_index[it->second].counts);
}

std::size_t RequestView::memory_bytes() const {
  const Impl& v = *impl_;
  std::size_t bytes = sizeof(Impl) + v.records.size() * sizeof(Record) +
                      v.packed.size() * sizeof(PackedAttempt) + v.texts.memory_bytes() +
                      v.uuids.memory_bytes();
  for (const PositionSet& set : v.by_phase) bytes += set.memory_bytes();
  for (const TargetIndex& t : v.target_index) {
    bytes +=
        sizeof(TargetIndex) + t.name.capacity() + t.positions.capacity() * sizeof(std::uint32_t);
    for (const PositionSet& set : t.by_phase) bytes += set.memory_bytes();
  }
  // An open request: its node, its state and attempts (texts inside are not counted).
  for (const auto& [position, o] : v.open) {
    bytes += sizeof(Open) + 32 + o.state.attempts.capacity() * sizeof(core::Attempt) +
             o.answers.capacity() * sizeof(o.answers[0]);
  }
  bytes += v.open.bucket_count() * sizeof(void*);
  return bytes;
}

}  // namespace api_broker::view
