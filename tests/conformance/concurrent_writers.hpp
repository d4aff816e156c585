#pragma once
// Stores opened and written by many at once, for the conformance suite: writer processes
// with followers (every backend that processes share), and concurrent opens.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::testing {

// Opens a new connection to the store under test (in a forked writer too).
using StoreOpener = std::function<Result<std::unique_ptr<store::EventStore>>()>;

// 8 writer processes append (singles and batches of 4, at once) while 3 followers in this
// process follow the log. Every follower must see every id once, in order, and the log must
// hold every event once: a follower that skipped an id committed late would wait for it
// forever, which the test bounds.
void expect_writers_never_make_a_follower_skip(const StoreOpener& open_store);

// Opens `openers` connections at once, from as many threads, and appends one event through
// each: what went wrong per opener (empty: nothing). For a store nobody opened yet, this is
// the race to create its schema.
std::vector<std::string> open_concurrently(const StoreOpener& open_store, int openers);

}  // namespace api_broker::testing
