#pragma once
// The application side of a chaos run: concurrent clients that insert `request` events through
// the real command line (`api-broker insert request BODY --external-uuid U`, one process per
// insert, `clients` at a time). A failed insert (the store is down, or restarting) is retried
// with the same external UUID until the store takes it; a duplicate answer then means that an
// earlier try was committed although its client saw an error, so the request is stored once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace api_broker::chaos {

// The external UUID of request `index` of the run with `seed` (a version 4 UUID).
std::string request_uuid(std::uint64_t seed, int index);

struct InsertPlan {
  int requests = 0;
  int clients = 4;
  std::uint64_t seed = 0;
  std::vector<std::string> store_args;  // global api-broker options that select the store
  // A request not stored after trying this long is given up (and reported).
  std::chrono::seconds give_up_after{120};
  // Polled before each try: true gives up every request not stored yet (may be empty).
  std::function<bool()> cancelled;
};

// How one request's insert went.
struct Insert {
  std::string uuid;
  bool stored = false;          // the store acknowledged it (exit 0, or 3 on a retry)
  int tries = 0;                // processes run
  bool found_on_retry = false;  // a retry answered "duplicate": an earlier try was committed
  std::string last_error;       // of the last failed try
};

class Inserters {
 public:
  // Starts the clients at once.
  explicit Inserters(InsertPlan plan);
  // Waits for the clients.
  ~Inserters();
  Inserters(const Inserters&) = delete;
  Inserters& operator=(const Inserters&) = delete;

  // Requests acknowledged so far (any thread).
  int stored() const { return stored_.load(); }
  // Every client is done (any thread).
  bool finished() const { return clients_done_.load() == static_cast<int>(clients_.size()); }
  // Waits for every client to finish; returns every request's insert, in index order.
  std::vector<Insert> join();

 private:
  void client(int first);
  Insert insert_one(int index);

  InsertPlan plan_;
  std::vector<Insert> inserts_;  // slot i written only by the client of request i
  std::atomic<int> stored_{0};
  std::atomic<int> clients_done_{0};
  std::vector<std::thread> clients_;
};

}  // namespace api_broker::chaos
