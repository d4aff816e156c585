#pragma once
// A decorator that logs every call to the store it wraps (as the prototype's did): calls at
// debug, failures at warn (duplicates, not found) or error (everything else).

#include <memory>

#include "api_broker/store/event_store.hpp"
#include "api_broker/store/open_store.hpp"

namespace api_broker::store {

std::unique_ptr<EventStore> make_logging_store(std::unique_ptr<EventStore> inner, LogLevel level);

}  // namespace api_broker::store
