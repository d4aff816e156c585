#include "chaos/cross_check.hpp"

#include <fmt/format.h>

#include <regex>
#include <set>
#include <utility>

namespace api_broker::chaos {
namespace {

// Records a problem; only the first few of each kind are spelled out.
class Problems {
 public:
  explicit Problems(std::vector<std::string>& out) : out_(out) {}
  void add(const std::string& kind, const std::string& text) {
    if (++counts_[kind] <= 5) out_.push_back(text);
  }
  ~Problems() {
    for (const auto& [kind, count] : counts_) {
      if (count > 5) out_.push_back(fmt::format("... {} more: {}", count - 5, kind));
    }
  }
  Problems(const Problems&) = delete;
  Problems& operator=(const Problems&) = delete;

 private:
  std::vector<std::string>& out_;
  std::map<std::string, std::uint64_t> counts_;
};

void check_requests(const std::vector<Insert>& inserts, const LogHistory& log, CrossCheck& check,
                    Problems& problems) {
  std::set<std::string> inserted;
  for (std::size_t i = 0; i < inserts.size(); ++i) {
    const Insert& insert = inserts[i];
    inserted.insert(insert.uuid);
    if (!insert.stored) {
      problems.add("not stored", fmt::format("request {} ({}) was never stored after {} tries: {}",
                                             i, insert.uuid, insert.tries, insert.last_error));
      continue;
    }
    ++check.requests;
    const auto found = log.requests.find(insert.uuid);
    if (found == log.requests.end()) {
      ++check.requests_lost;
      problems.add("lost", fmt::format("request {} ({}) was acknowledged but is not in the log", i,
                                       insert.uuid));
      continue;
    }
    const RequestHistory& request = found->second;
    if (request.terminal_events.empty()) {
      ++check.requests_lost;
      problems.add("unfinished",
                   fmt::format("request {} (event {}) has no terminal event", i, request.id));
    } else if (request.terminal_events.size() > 1) {
      problems.add("terminal", fmt::format("request {} (event {}) has {} terminal events", i,
                                           request.id, request.terminal_events.size()));
    }
    if (!request.terminal_events.empty()) ++(request.succeeded ? check.succeeded : check.failed);
  }
  for (const auto& [key, request] : log.requests) {
    if (inserted.count(key) == 0) {
      problems.add("stranger",
                   fmt::format("request event {} ({}) was inserted by no client", request.id, key));
    }
  }
}

// Every call must be the one call of an attempt recorded before its request's terminal event.
void check_calls(const LogHistory& log, const std::vector<ApiCall>& calls, CrossCheck& check,
                 Problems& problems) {
  std::set<std::pair<std::string, std::uint32_t>> received;
  for (const ApiCall& call : calls) {
    const auto found = log.requests.find(call.key);
    const auto resent = [&](const std::string& why) {
      ++check.terminal_resent;
      problems.add("resent", fmt::format("call for '{}' attempt {} ({}): {}", call.key,
                                         call.attempt ? std::to_string(*call.attempt) : "none",
                                         call.outcome, why));
    };
    if (found == log.requests.end()) {
      resent("no request in the log has this key");
      continue;
    }
    if (!call.attempt) {
      resent("the call names no attempt");
      continue;
    }
    const RequestHistory& request = found->second;
    const auto attempt = request.attempts.find(*call.attempt);
    if (attempt == request.attempts.end() || attempt->second.started_event == 0) {
      resent("the log records no such attempt (write-ahead broken)");
      continue;
    }
    if (!request.terminal_events.empty() &&
        attempt->second.started_event > request.terminal_events.front()) {
      resent("the attempt was recorded after the request's terminal event");
      continue;
    }
    if (!received.emplace(call.key, *call.attempt).second) {
      resent("this attempt was received before");
      continue;
    }
    if (!request.terminal_events.empty() && call.received_us > request.terminal_created_us) {
      ++check.calls_after_terminal;
    }
  }
  for (const auto& [key, request] : log.requests) {
    for (const auto& [number, attempt] : request.attempts) {
      if (attempt.started_event != 0 && received.count({key, number}) == 0) {
        ++check.attempts_not_received;
      }
    }
  }
}

// Calls of attempts after the first attempt the API answered with success.
void count_duplicates(const LogHistory& log, const std::vector<ApiCall>& calls,
                      const RestartTimeouts& restart_timeouts, CrossCheck& check) {
  std::map<std::string, std::uint32_t> first_success;
  for (const ApiCall& call : calls) {
    if (call.outcome != "ok" || !call.attempt) continue;
    auto [it, added] = first_success.try_emplace(call.key, *call.attempt);
    if (!added) it->second = std::min(it->second, *call.attempt);
  }
  std::set<std::string> duplicated;
  for (const ApiCall& call : calls) {
    const auto first = first_success.find(call.key);
    if (!call.attempt || first == first_success.end() || *call.attempt <= first->second) continue;
    ++check.duplicates;
    if (duplicated.insert(call.key).second) ++check.duplicated_requests;
    const auto request = log.requests.find(call.key);
    const bool killed = request != log.requests.end() &&
                        restart_timeouts.count({request->second.id, first->second}) > 0;
    ++(killed ? check.duplicates_after_kill : check.duplicates_after_timeout);
  }
}

}  // namespace

RestartTimeouts restart_timeouts_in(const std::string& processor_log) {
  static const std::regex line(R"(request (\d+): attempt (\d+) was started before a restart)");
  RestartTimeouts found;
  for (std::sregex_iterator it(processor_log.begin(), processor_log.end(), line), end; it != end;
       ++it) {
    found.emplace(std::stoull((*it)[1].str()), static_cast<std::uint32_t>(std::stoul((*it)[2])));
  }
  return found;
}

CrossCheck cross_check(const std::vector<Insert>& inserts, const LogHistory& log,
                       const std::vector<ApiCall>& calls,
                       const std::map<std::string, std::uint64_t>& calls_per_key,
                       const RestartTimeouts& restart_timeouts) {
  CrossCheck check;
  check.attempts = log.attempts;
  {
    Problems problems(check.problems);
    if (log.unreadable > 0) {
      problems.add("unreadable", fmt::format("{} rows of the log do not decode", log.unreadable));
    }
    check_requests(inserts, log, check, problems);
    // The API's two records must agree: its counters (on arrival) and its calls log.
    std::map<std::string, std::uint64_t> logged;
    for (const ApiCall& call : calls) ++logged[call.key];
    for (const auto& [key, count] : calls_per_key) check.api_calls += count;
    if (logged != calls_per_key) {
      problems.add("api records",
                   fmt::format("the API counted {} calls on arrival but logged {} outcomes",
                               check.api_calls, calls.size()));
    }
    check_calls(log, calls, check, problems);
    count_duplicates(log, calls, restart_timeouts, check);
  }
  return check;
}

}  // namespace api_broker::chaos
