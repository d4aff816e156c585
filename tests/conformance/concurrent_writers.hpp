#pragma once
// A store shared by processes: 8 writer processes append (singles and batches of 4, at once)
// while 3 followers in this process follow the log. Every follower must see every id once,
// in order, and the log must hold every event once: a follower that skipped an id committed
// late would wait for it forever, which the test bounds. For the backends that several
// processes share over a network (PostgreSQL, MongoDB).

#include <functional>
#include <memory>

#include "api_broker/result.hpp"
#include "api_broker/store/event_store.hpp"

namespace api_broker::testing {

// Opens a new connection to the store under test (in a forked writer too).
using StoreOpener = std::function<Result<std::unique_ptr<store::EventStore>>()>;

void expect_writers_never_make_a_follower_skip(const StoreOpener& open_store);

}  // namespace api_broker::testing
