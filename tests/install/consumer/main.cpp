// A program built against the installed api_broker package: opens a store by its options
// (store_open links every backend, so their client libraries must resolve), appends a request
// under an external UUID and finds it again by that UUID. Prints "consumer: ok <id>".

#include <cstdio>

#include "api_broker/events/envelope.hpp"
#include "api_broker/events/uuid.hpp"
#include "api_broker/store/open_store.hpp"

namespace events = api_broker::events;
namespace store = api_broker::store;

int main() {
  auto uuid = events::parse_uuid("7d444840-9dc0-11d1-b245-5ffdce74fad2");
  if (!uuid) return 1;
  auto opened = store::open_store({.driver = "memory"});
  if (!opened) return 2;
  auto& event_store = **opened;
  auto id =
      event_store.append({.event = events::Request{.request = "ping"}, .external_uuid = *uuid});
  if (!id) return 3;
  auto found = event_store.resolve(*uuid);
  if (!found || *found != *id) return 4;
  std::printf("consumer: ok %llu\n", static_cast<unsigned long long>(events::to_int(*id)));
  return 0;
}
