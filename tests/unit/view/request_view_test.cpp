// The read model's fold: given a log written by hand, when it is applied, then the phases,
// listings, counts and lookups are what the state machine and the indexes say.

#include "api_broker/view/request_view.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <cstring>

#include "api_broker/limits.hpp"
#include "view_log.hpp"

namespace api_broker::view {
namespace {

using namespace std::chrono_literals;
using core::Phase;
using events::EventId;
using testing::ids;
using testing::t0;
using testing::uuid;
using testing::ViewLog;

// A policy without jitter, so a backoff's end is exact.
void exact_policy(ViewLog& log) {
  log.add(0s, events::Configuration{.retries = 2,
                                    .timeout = 1,
                                    .backoff_initial = 0.5,
                                    .backoff_multiplier = 2,
                                    .backoff_max = 10,
                                    .backoff_jitter = 0,
                                    .deadline = 0});
}

TEST(RequestView, NewRequestIsWaiting) {
  ViewLog log;
  const EventId r = log.request(1s, "", uuid(1));
  const auto d = log.view.detail(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->summary.phase, Phase::waiting);
  EXPECT_EQ(d->summary.method, "POST");
  EXPECT_EQ(d->summary.destination, "POST <api-url>/api");
  EXPECT_EQ(d->summary.requested_at, t0 + 1s);
  EXPECT_EQ(d->summary.external_uuid, uuid(1));
  EXPECT_EQ(d->body_excerpt, "body");
  EXPECT_TRUE(d->attempts.empty());
  EXPECT_FALSE(d->summary.finished_at);
  EXPECT_EQ(log.view.counts(), (Counts{.waiting = 1}));
  EXPECT_EQ(log.view.last_applied(), r);
}

TEST(RequestView, PhasesFollowAttemptsBackoffAndSuccess) {
  ViewLog log;
  exact_policy(log);
  const EventId r = log.request(0s);
  log.add(0s, events::ApiRequest{.attempt = 0}, r);
  EXPECT_EQ(log.view.summary(r)->phase, Phase::in_flight);
  log.add(1s, events::ApiFailure{.attempt = 0, .failure = "HTTP 503", .status = 503}, r);
  auto d = log.view.detail(r);
  EXPECT_EQ(d->summary.phase, Phase::backing_off);
  EXPECT_EQ(d->next_attempt_at, t0 + 1s + 500ms);
  EXPECT_EQ(log.view.counts(), (Counts{.backing_off = 1}));
  log.add(1500ms, events::ApiRequest{.attempt = 1}, r);
  log.add(1600ms, events::ApiResponse{.attempt = 1, .response = "{\"ok\":1}", .status = 201}, r);
  log.add(1600ms, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  d = log.view.detail(r);
  EXPECT_EQ(d->summary.phase, Phase::succeeded);
  EXPECT_EQ(d->summary.attempts, 2U);
  EXPECT_EQ(d->summary.finished_at, t0 + 1600ms);
  EXPECT_FALSE(d->next_attempt_at);
  ASSERT_EQ(d->attempts.size(), 2U);
  EXPECT_EQ(d->attempts[0], (AttemptView{.number = 0,
                                         .started_at = t0,
                                         .ended_at = t0 + 1s,
                                         .result = core::AttemptResult::failed,
                                         .status = 503,
                                         .excerpt = "HTTP 503"}));
  EXPECT_EQ(d->attempts[1], (AttemptView{.number = 1,
                                         .started_at = t0 + 1500ms,
                                         .ended_at = t0 + 1600ms,
                                         .result = core::AttemptResult::succeeded,
                                         .status = 201,
                                         .excerpt = "{\"ok\":1}"}));
  EXPECT_EQ(log.view.counts(), (Counts{.succeeded = 1}));
}

TEST(RequestView, TimeoutsThenGivingUpIsFailedWithTheReason) {
  ViewLog log;
  exact_policy(log);
  const EventId r = log.request(0s);
  for (std::uint32_t a = 0; a < 3; ++a) {
    log.add(std::chrono::seconds(2 * a), events::ApiRequest{.attempt = a}, r);
    log.add(std::chrono::seconds(2 * a + 1), events::ApiTimeout{.attempt = a}, r);
  }
  EXPECT_EQ(log.view.summary(r)->phase, Phase::failed);  // known before the terminal event
  EXPECT_FALSE(log.view.summary(r)->finished_at);
  log.add(6s, events::RequestFailed{.attempts = 3, .reason = "3 attempts timed out"}, r);
  const auto d = log.view.detail(r);
  EXPECT_EQ(d->summary.phase, Phase::failed);
  EXPECT_EQ(d->summary.reason, "3 attempts timed out");
  EXPECT_EQ(d->summary.finished_at, t0 + 6s);
  ASSERT_EQ(d->attempts.size(), 3U);
  EXPECT_EQ(d->attempts[2].result, core::AttemptResult::timed_out);
  EXPECT_EQ(log.view.counts(), (Counts{.failed = 1}));
}

TEST(RequestView, ExcerptsAreCut) {
  ViewLog log;
  const std::string long_body(limits::view_excerpt_bytes_max * 3, 'b');
  const EventId r = log.add(0s, events::Request{.request = long_body});
  log.add(0s, events::ApiRequest{.attempt = 0}, r);
  log.add(0s, events::ApiResponse{.attempt = 0, .response = long_body}, r);
  log.add(0s, events::RequestSucceeded{.attempts = 1}, r);
  const auto d = log.view.detail(r);
  EXPECT_EQ(d->body_excerpt.size(), limits::view_excerpt_bytes_max);
  EXPECT_EQ(d->attempts.at(0).excerpt.size(), limits::view_excerpt_bytes_max);
}

TEST(RequestView, ListsPageWithTheCursor) {
  ViewLog log;
  std::vector<EventId> all;
  for (int i = 0; i < 7; ++i) all.push_back(log.succeeded(std::chrono::seconds(i)));
  auto page = log.view.list({.limit = 3});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[0], all[1], all[2]}));
  EXPECT_EQ(page.next_after, all[2]);
  page = log.view.list({.after = page.next_after, .limit = 3});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[3], all[4], all[5]}));
  page = log.view.list({.after = page.next_after, .limit = 3});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[6]}));
  EXPECT_EQ(page.next_after, EventId{});
  // A page that ends exactly at the last one says there is no more.
  page = log.view.list({.after = all[3], .limit = 3});
  EXPECT_EQ(page.next_after, EventId{});
  // A cursor that is no request's id (an attempt's) works too.
  page = log.view.list({.after = EventId{events::to_int(all[0]) + 1}, .limit = 1});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[1]}));
  EXPECT_TRUE(log.view.list({.limit = 0}).items.empty());
}

TEST(RequestView, LimitIsCapped) {
  ViewLog log;
  for (std::size_t i = 0; i < limits::view_page_max + 5; ++i) log.request(0s);
  const auto page = log.view.list({.limit = limits::view_page_max * 10});
  EXPECT_EQ(page.items.size(), limits::view_page_max);
  EXPECT_NE(page.next_after, EventId{});
}

// Five requests to targets a, b and none, in three phases.
struct FiveRequests {
  ViewLog log;
  EventId a_ok = log.succeeded(0s, "a");
  EventId a_bad = log.failed(1s, "a");
  EventId b_bad = log.failed(2s, "b");
  EventId plain_bad = log.failed(3s);
  EventId a_wait = log.request(4s, "a");
};

TEST(RequestView, FiltersByPhaseAndTarget) {
  FiveRequests given;
  auto& [log, a_ok, a_bad, b_bad, plain_bad, a_wait] = given;
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed})),
            (std::vector<EventId>{a_bad, b_bad, plain_bad}));
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed, .target = "a"})),
            (std::vector<EventId>{a_bad}));
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed, .target = ""})),
            (std::vector<EventId>{plain_bad}));
  EXPECT_EQ(ids(log.view.list({.target = "a"})), (std::vector<EventId>{a_ok, a_bad, a_wait}));
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed, .target = "a", .after = a_bad})),
            (std::vector<EventId>{}));
  EXPECT_TRUE(log.view.list({.target = "nobody"}).items.empty());
  EXPECT_TRUE(log.view.list({.phase = Phase::in_flight}).items.empty());
  EXPECT_EQ(log.view.list({.target = "a"}).items.at(0).destination, "POST target a/x");
  EXPECT_EQ(log.view.counts(), (Counts{.waiting = 1, .succeeded = 1, .failed = 3}));
  EXPECT_EQ(log.view.counts("a"), (Counts{.waiting = 1, .succeeded = 1, .failed = 1}));
  EXPECT_EQ(log.view.counts("zzz"), Counts{});
}

TEST(RequestView, PagesByPhaseAcrossManyRequests) {
  ViewLog log;
  std::vector<EventId> failed;
  for (int i = 0; i < 1000; ++i) {
    if (i % 97 == 0) {
      failed.push_back(log.failed(0s, i % 2 == 0 ? "even" : "odd"));
    } else {
      log.succeeded(0s, i % 2 == 0 ? "even" : "odd");
    }
  }
  std::vector<EventId> seen;
  ListPage page;
  do {
    page = log.view.list({.phase = Phase::failed, .after = page.next_after, .limit = 2});
    for (const auto& s : page.items) seen.push_back(s.id);
  } while (page.next_after != EventId{});
  EXPECT_EQ(seen, failed);
  EXPECT_EQ(log.view.counts().failed, failed.size());
  EXPECT_EQ(log.view.counts("even").failed + log.view.counts("odd").failed, failed.size());
}

TEST(RequestView, IndexesFollowPhaseChanges) {
  ViewLog log;
  exact_policy(log);
  const EventId r = log.request(0s, "t");
  const EventId other = log.request(0s, "t");
  const auto in = [&](std::optional<Phase> phase) {
    return ids(log.view.list({.phase = phase, .target = "t"}));
  };
  EXPECT_EQ(in(Phase::waiting), (std::vector<EventId>{r, other}));
  log.add(0s, events::ApiRequest{.attempt = 0}, r);
  EXPECT_EQ(in(Phase::waiting), (std::vector<EventId>{other}));
  EXPECT_EQ(in(Phase::in_flight), (std::vector<EventId>{r}));
  log.add(1s, events::ApiFailure{.attempt = 0, .failure = "HTTP 500", .status = 500}, r);
  EXPECT_TRUE(in(Phase::in_flight).empty());
  EXPECT_EQ(in(Phase::backing_off), (std::vector<EventId>{r}));
  log.add(2s, events::ApiRequest{.attempt = 1}, r);
  log.add(2s, events::ApiResponse{.attempt = 1, .response = "ok"}, r);
  EXPECT_EQ(in(Phase::succeeded), (std::vector<EventId>{r}));
  log.add(2s, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  EXPECT_EQ(in(Phase::succeeded), (std::vector<EventId>{r}));
  EXPECT_TRUE(in(Phase::backing_off).empty());
  EXPECT_EQ(log.view.counts("t"), (Counts{.waiting = 1, .succeeded = 1}));
  EXPECT_EQ(log.view.counts().total(), 2U);
}

TEST(RequestView, ListsNewestFirstWithTheSameCursor) {
  ViewLog log;
  std::vector<EventId> all;
  for (int i = 0; i < 7; ++i) all.push_back(log.succeeded(std::chrono::seconds(i)));
  const auto newest = ListOrder::newest_first;
  auto page = log.view.list({.limit = 3, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[6], all[5], all[4]}));
  EXPECT_EQ(page.next_after, all[4]);
  page = log.view.list({.after = page.next_after, .limit = 3, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[3], all[2], all[1]}));
  page = log.view.list({.after = page.next_after, .limit = 3, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[0]}));
  EXPECT_EQ(page.next_after, EventId{});
  // A page that ends exactly at the oldest one says there is no more.
  page = log.view.list({.after = all[3], .limit = 3, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[2], all[1], all[0]}));
  EXPECT_EQ(page.next_after, EventId{});
  // A cursor that is no request's id (an attempt's, or beyond the log) works too.
  page = log.view.list({.after = EventId{events::to_int(all[1]) + 1}, .limit = 1, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[1]}));
  page = log.view.list({.after = EventId{1'000'000}, .limit = 1, .order = newest});
  EXPECT_EQ(ids(page), (std::vector<EventId>{all[6]}));
  EXPECT_TRUE(log.view.list({.after = all[0], .order = newest}).items.empty());
}

TEST(RequestView, FiltersByPhaseAndTargetNewestFirst) {
  FiveRequests given;
  auto& [log, a_ok, a_bad, b_bad, plain_bad, a_wait] = given;
  const auto newest = ListOrder::newest_first;
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed, .order = newest})),
            (std::vector<EventId>{plain_bad, b_bad, a_bad}));
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed, .target = "a", .order = newest})),
            (std::vector<EventId>{a_bad}));
  EXPECT_EQ(ids(log.view.list({.target = "a", .order = newest})),
            (std::vector<EventId>{a_wait, a_bad, a_ok}));
  EXPECT_EQ(ids(log.view.list({.target = "a", .after = a_wait, .order = newest})),
            (std::vector<EventId>{a_bad, a_ok}));
  EXPECT_EQ(ids(log.view.list({.target = "a", .after = b_bad, .order = newest})),
            (std::vector<EventId>{a_bad, a_ok}));
  EXPECT_EQ(
      ids(log.view.list({.phase = Phase::failed, .target = "a", .after = a_bad, .order = newest})),
      (std::vector<EventId>{}));
  EXPECT_EQ(
      ids(log.view.list({.phase = Phase::failed, .target = "a", .after = a_wait, .order = newest})),
      (std::vector<EventId>{a_bad}));
}

TEST(RequestView, PagesByPhaseNewestFirstAcrossManyRequests) {
  ViewLog log;
  std::vector<EventId> failed, odd_failed;
  for (int i = 0; i < 5000; ++i) {
    if (i % 97 == 0 || i % 1000 == 999) {
      failed.push_back(log.failed(0s, i % 2 == 0 ? "even" : "odd"));
      if (i % 2 != 0) odd_failed.push_back(failed.back());
    } else {
      log.succeeded(0s, i % 2 == 0 ? "even" : "odd");
    }
  }
  auto all_pages = [&](std::optional<std::string> target) {
    std::vector<EventId> seen;
    ListPage page;
    do {
      page = log.view.list({.phase = Phase::failed,
                            .target = target,
                            .after = page.next_after,
                            .limit = 3,
                            .order = ListOrder::newest_first});
      for (const auto& s : page.items) seen.push_back(s.id);
    } while (page.next_after != EventId{});
    std::reverse(seen.begin(), seen.end());
    return seen;
  };
  EXPECT_EQ(all_pages(std::nullopt), failed);
  EXPECT_EQ(all_pages("odd"), odd_failed);
}

TEST(RequestView, FindsByExternalUuid) {
  ViewLog log;
  const EventId a = log.request(0s, "", uuid(1));
  const EventId b = log.request(0s, "", uuid(2));
  log.request(0s);
  EXPECT_EQ(log.view.find(uuid(1)), a);
  EXPECT_EQ(log.view.find(uuid(2)), b);
  EXPECT_FALSE(log.view.find(uuid(3)));
  // Only requests are indexed: a UUID on another event is not a request's.
  log.add(0s, events::Simple{"x"}, {}, uuid(4));
  EXPECT_FALSE(log.view.find(uuid(4)));
}

TEST(RequestView, ManyUuidsStayFound) {
  ViewLog log;
  std::vector<std::pair<events::Uuid, EventId>> all;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    events::Uuid u;
    std::memcpy(u.bytes.data() + 12, &i, sizeof i);  // sequential ones
    u.bytes[0] = 1;
    all.emplace_back(u, log.request(0s, "", u));
  }
  for (const auto& [u, id] : all) EXPECT_EQ(log.view.find(u), id);
}

TEST(RequestView, CancelThenRequestFailedIsFailedWithTheCancelReason) {
  ViewLog log;
  const EventId r = log.request(0s);
  log.add(0s, events::ApiRequest{.attempt = 0}, r);
  // Between the cancel and its request-failed the phase is the state machine's (main: still
  // in flight; with rounds: failed, due to fail); not asserted here.
  log.add(1s, events::RequestCancelled{.reason = "by the API"}, r);
  log.add(1s, events::RequestFailed{.attempts = 1, .reason = "cancelled: by the API"}, r);
  const auto s = log.view.summary(r);
  EXPECT_EQ(s->phase, Phase::failed);
  EXPECT_EQ(s->reason, "cancelled: by the API");
  EXPECT_EQ(s->finished_at, t0 + 1s);
  EXPECT_EQ(ids(log.view.list({.phase = Phase::failed})), (std::vector<EventId>{r}));
  // A cancel after the end changes nothing.
  log.add(2s, events::RequestCancelled{}, r);
  EXPECT_EQ(log.view.summary(r), s);
}

// B's request-retried names the round it starts and the attempts before it; on a core that
// does not know rounds yet, the event has no such fields and this test is skipped.
template <class Retried>
bool fill_round(Retried& retried, std::uint32_t round, std::uint32_t attempts) {
  if constexpr (requires {
                  retried.round;
                  retried.attempts;
                }) {
    retried.round = round;
    retried.attempts = attempts;
    return true;
  } else {
    return false;
  }
}

TEST(RequestView, RetriedFailedRequestIsUnfinishedAgainAndMovesBetweenIndexes) {
  ViewLog log;
  exact_policy(log);
  const EventId r = log.failed(0s, "t");
  ASSERT_EQ(ids(log.view.list({.phase = Phase::failed})), (std::vector<EventId>{r}));
  events::RequestRetried retried{.reason = "by hand"};
  if (!fill_round(retried, 1, 1)) GTEST_SKIP() << "the core has no rounds yet (branch rounds)";
  log.add(10s, retried, r);
  auto s = log.view.summary(r);
  EXPECT_EQ(s->phase, Phase::waiting);
  EXPECT_FALSE(s->finished_at);
  EXPECT_EQ(s->reason, "");
  EXPECT_TRUE(log.view.list({.phase = Phase::failed}).items.empty());
  EXPECT_EQ(ids(log.view.list({.phase = Phase::waiting, .target = "t"})),
            (std::vector<EventId>{r}));
  EXPECT_EQ(log.view.counts(), (Counts{.waiting = 1}));
  log.add(11s, events::ApiRequest{.attempt = 1}, r);
  log.add(11s, events::ApiResponse{.attempt = 1, .response = "ok"}, r);
  log.add(11s, events::RequestSucceeded{.attempts = 2, .attempt = 1}, r);
  const auto d = log.view.detail(r);
  EXPECT_EQ(d->summary.phase, Phase::succeeded);
  EXPECT_EQ(d->summary.finished_at, t0 + 11s);
  EXPECT_EQ(d->summary.attempts, 2U);
  ASSERT_EQ(d->attempts.size(), 2U);
  EXPECT_EQ(d->attempts[0].result, core::AttemptResult::failed);
  EXPECT_EQ(d->attempts[1].result, core::AttemptResult::succeeded);
  EXPECT_EQ(log.view.counts("t"), (Counts{.succeeded = 1}));
}

TEST(RequestView, ARetriedRoundRunsUnderThePolicyInForceAtTheRetry) {
  ViewLog log;
  exact_policy(log);  // 2 retries
  const EventId r = log.failed(0s);
  log.add(1s, events::Configuration{.retries = 0});
  events::RequestRetried retried{};
  if (!fill_round(retried, 1, 1)) GTEST_SKIP() << "the core has no rounds yet (branch rounds)";
  log.add(2s, retried, r);
  log.add(2s, events::ApiRequest{.attempt = 1}, r);
  log.add(3s, events::ApiFailure{.attempt = 1, .failure = "HTTP 503", .status = 503}, r);
  // Under the request's own policy it would back off; under the one in force, no retry is left.
  EXPECT_EQ(log.view.summary(r)->phase, Phase::failed);
}

TEST(RequestView, OddEventsNeverCrash) {
  ViewLog log;
  const EventId r = log.succeeded(0s);
  // Caused by nothing, by a non-request, after the end, for attempts never started.
  log.add(1s, events::ApiResponse{.attempt = 0}, EventId{999});
  log.add(1s, events::ApiFailure{.attempt = 7}, EventId{1});
  log.add(1s, events::ApiTimeout{.attempt = 3}, r);
  log.add(1s, events::RequestFailed{.attempts = 9}, r);
  log.add(1s, events::RequestRetried{}, r);
  log.add(1s, events::RequestCancelled{}, EventId{});
  const EventId w = log.request(2s);
  log.add(2s, events::ApiResponse{.attempt = 5}, w);
  log.add(2s, events::RequestSucceeded{.attempts = 0, .attempt = 4}, w);
  log.add(2s, events::Configuration{.retries = -5});  // invalid: ignored
  log.add(2s, events::Target{.name = "bad name!"});   // invalid: ignored
  log.add(2s, events::BreakerOpened{.target = "x"});
  // An event with an id already applied changes nothing.
  log.view.apply(events::Envelope{.id = r, .event = events::Request{"again"}});
  EXPECT_EQ(log.view.summary(r)->phase, Phase::succeeded);
  EXPECT_TRUE(log.view.summary(w).has_value());
  EXPECT_EQ(log.view.counts().total(), 2U);
  EXPECT_FALSE(log.view.detail(EventId{999}));
  EXPECT_FALSE(log.view.detail(EventId{}));
}

TEST(RequestView, TargetRuleInForceDecidesRetries) {
  ViewLog log;
  exact_policy(log);
  // Target t retries 404s; a request to it whose attempt got a 404 backs off.
  log.add(0s, events::Target{.name = "t", .url = "http://t.test", .retry_on = "404"});
  const EventId r = log.request(0s, "t");
  log.add(0s, events::ApiRequest{.attempt = 0}, r);
  log.add(1s, events::ApiFailure{.attempt = 0, .failure = "HTTP 404", .status = 404}, r);
  EXPECT_EQ(log.view.summary(r)->phase, Phase::backing_off);
  // A plain request's 404 is not retried.
  const EventId p = log.request(2s);
  log.add(2s, events::ApiRequest{.attempt = 0}, p);
  log.add(3s, events::ApiFailure{.attempt = 0, .failure = "HTTP 404", .status = 404}, p);
  EXPECT_EQ(log.view.summary(p)->phase, Phase::failed);
}

TEST(RequestView, MemoryGrowsWithRequests) {
  ViewLog log;
  const std::size_t empty = log.view.memory_bytes();
  for (int i = 0; i < 1000; ++i) log.succeeded(0s);
  EXPECT_GT(log.view.memory_bytes(), empty);
}

}  // namespace
}  // namespace api_broker::view
