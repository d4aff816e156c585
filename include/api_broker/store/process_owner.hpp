#pragma once
// Who holds a lock or a lease in a store: "host:pid:random", unique per process start, so
// that a waiter on the same machine can tell that the holder no longer exists and take over
// at once instead of waiting for the expiry.

#include <string>
#include <string_view>

namespace api_broker::store {

// "host:pid:random" for this process (a new random part on every call).
std::string process_owner_id();

// Whether `owner` (a process_owner_id()) names a process of this host that has exited.
bool process_owner_is_gone(std::string_view owner);

}  // namespace api_broker::store
