// The chaos run's cross-check of the log with the API's record: each broken rule is counted
// where it belongs, and a clean record counts nothing.

#include "chaos/cross_check.hpp"

#include <gtest/gtest.h>

namespace api_broker::chaos {
namespace {

constexpr const char* key = "6f1c0a52-4d5b-4f6e-9a31-2b7c9d0e1f22";

// One stored request (event 1) with attempts 0 (a 503) and 1 (answered), then its terminal
// event (event 6); the API received both attempts once, and the counters agree.
struct Record {
  Record() {
    RequestHistory request{.id = 1, .idempotency_key = key};
    request.attempts[0] = AttemptHistory{.started_event = 2, .failed = true};
    request.attempts[1] = AttemptHistory{.started_event = 4, .answered = true};
    request.terminal_events = {6};
    request.terminal_created_us = 1000;
    request.succeeded = true;
    log.requests[key] = request;
    log.attempts = 2;
    add_call(0, "503", 100);
    add_call(1, "ok", 300);
  }
  void add_call(std::optional<std::uint32_t> attempt, const std::string& outcome,
                std::int64_t received_us, const std::string& call_key = key) {
    calls.push_back(ApiCall{.key = call_key,
                            .attempt = attempt,
                            .outcome = outcome,
                            .received_us = received_us,
                            .answered_us = received_us + 10});
    ++per_key[call_key];
  }
  CrossCheck check() const { return cross_check(inserts, log, calls, per_key, restarts); }

  std::vector<Insert> inserts{Insert{.uuid = key, .stored = true, .tries = 1}};
  LogHistory log;
  std::vector<ApiCall> calls;
  std::map<std::string, std::uint64_t> per_key;
  RestartTimeouts restarts;
};

TEST(CrossCheck, ACleanRecordCountsNothing) {
  const CrossCheck check = Record().check();
  EXPECT_TRUE(check.problems.empty()) << check.problems.front();
  EXPECT_EQ(check.requests, 1u);
  EXPECT_EQ(check.succeeded, 1u);
  EXPECT_EQ(check.attempts, 2u);
  EXPECT_EQ(check.api_calls, 2u);
  EXPECT_EQ(check.attempts_not_received, 0u);
  EXPECT_EQ(check.duplicates, 0u);
  EXPECT_EQ(check.requests_lost, 0u);
  EXPECT_EQ(check.terminal_resent, 0u);
}

TEST(CrossCheck, AnAttemptReceivedTwiceIsAResend) {
  Record record;
  record.add_call(1, "ok", 2000);
  const CrossCheck check = record.check();
  EXPECT_EQ(check.terminal_resent, 1u);
  ASSERT_FALSE(check.problems.empty());
  EXPECT_NE(check.problems.front().find("received before"), std::string::npos);
}

TEST(CrossCheck, ACallWithoutItsApiRequestIsAResend) {
  Record record;
  record.add_call(2, "ok", 2000);  // the log has no attempt 2
  record.add_call(std::nullopt, "ok", 2100);
  record.add_call(0, "ok", 2200, "api-broker-99");  // no such request
  const CrossCheck check = record.check();
  EXPECT_EQ(check.terminal_resent, 3u);
}

TEST(CrossCheck, AnAttemptRecordedAfterTheTerminalEventIsAResend) {
  Record record;
  record.log.requests[key].attempts[2] = AttemptHistory{.started_event = 7};
  record.add_call(2, "503", 2000);
  EXPECT_EQ(record.check().terminal_resent, 1u);
}

TEST(CrossCheck, AcknowledgedRequestsMissingOrUnfinishedAreLost) {
  Record record;
  record.inserts.push_back(Insert{.uuid = "00000000-0000-4000-8000-000000000001", .stored = true});
  EXPECT_EQ(record.check().requests_lost, 1u);
  record.log.requests[key].terminal_events.clear();
  EXPECT_EQ(record.check().requests_lost, 2u);
}

TEST(CrossCheck, CallsAfterASuccessAreDuplicatesByCause) {
  Record record;
  record.calls.clear();
  record.per_key.clear();
  record.add_call(0, "ok", 100);  // its answer never reached the log
  record.add_call(1, "ok", 300);
  record.log.requests[key].attempts[0] = AttemptHistory{.started_event = 2, .timed_out = true};
  record.restarts.emplace(1, 0);  // a restarted processor recorded attempt 0 as timed out
  CrossCheck check = record.check();
  EXPECT_EQ(check.duplicates, 1u);
  EXPECT_EQ(check.duplicated_requests, 1u);
  EXPECT_EQ(check.duplicates_after_kill, 1u);
  record.restarts.clear();  // the processor's own timer did: the success came late
  check = record.check();
  EXPECT_EQ(check.duplicates_after_timeout, 1u);
  EXPECT_EQ(check.terminal_resent, 0u);
}

TEST(CrossCheck, AttemptsTheApiNeverReceivedAreCounted) {
  Record record;
  record.calls.pop_back();
  record.per_key[key] = 1;
  EXPECT_EQ(record.check().attempts_not_received, 1u);
}

TEST(CrossCheck, TheApisTwoRecordsMustAgree) {
  Record record;
  record.per_key[key] = 3;
  const CrossCheck check = record.check();
  ASSERT_FALSE(check.problems.empty());
  EXPECT_NE(check.problems.front().find("counted 3 calls"), std::string::npos);
}

TEST(CrossCheck, RestartTimeoutsAreReadFromTheProcessorLog) {
  const RestartTimeouts found = restart_timeouts_in(
      "[info] request 12: attempt 3 was started before a restart; counting it as timed out\n"
      "[info] request 7: attempt 0 was started before a restart; counting it as timed out\n");
  EXPECT_EQ(found, (RestartTimeouts{{12, 3}, {7, 0}}));
}

}  // namespace
}  // namespace api_broker::chaos
