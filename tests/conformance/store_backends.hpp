#pragma once
// The backends the conformance suite runs against. A backend is a factory of fixtures; a
// fixture is one fresh, empty store that can be opened several times (like several
// connections or processes).

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "api_broker/store/event_store.hpp"

namespace api_broker::testing {

class StoreFixture {
 public:
  virtual ~StoreFixture() = default;
  // A new connection to this fixture's store.
  virtual Result<std::unique_ptr<store::EventStore>> open() = 0;
  // Whether open() works in a forked child process (persistent backends).
  virtual bool shared_across_processes() const = 0;
  // Empty when the backend can run here; otherwise why not (the test is skipped, saying so).
  virtual std::string unavailable_reason() const { return {}; }
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<StoreFixture>()> make;
};

// For test names and messages: the backend's name, not its bytes.
inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

// Every backend; a new backend adds one line in store_backends.cpp.
const std::vector<Backend>& backends();

}  // namespace api_broker::testing
