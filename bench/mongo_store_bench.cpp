// Event store figures on MongoDB, each beside a raw ceiling measured in the same run (plain
// libmongoc inserts into a collection of the same shape, the same write concern):
//   append rate, single events and batches of 100, each from 1 connection and from 8 at once
//   (a thread and a client each);
//   follow wake-up latency across processes through the tailed capped collection (p50/p99).
// Every figure runs in a fresh database of its own, dropped at the end.
// Usage: mongo_store_bench [--url URL] [--scale X]
//   URL: default $API_BROKER_MONGODB_URL. Against the wire-protocol stand-in of the tests
//   (scripts/mongo-standin.sh) the figures say nothing about MongoDB's own speed: the
//   program says so. --scale multiplies the number of events (default 1).

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api_broker/events/uuid.hpp"
#include "api_broker/store/mongo_store.hpp"
#include "mongo_support.hpp"
#include "stats.hpp"

namespace {

using namespace api_broker;
using namespace std::chrono_literals;
using store::mongo::Bson;

[[noreturn]] void die(const std::string& message) {
  fmt::print(stderr, "mongo_store_bench: {}\n", message);
  std::exit(1);
}

// A client of the server at `url`, with the store's default write concern (majority,
// journaled), so that raw and store figures are comparable.
store::mongo::Client connect(const std::string& url) {
  store::mongo::ensure_driver();
  store::mongo::Client client(mongoc_client_new(url.c_str()));
  if (!client) die("bad URL " + url);
  mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  store::mongo::WriteConcern concern(mongoc_write_concern_new());
  mongoc_write_concern_set_wmajority(concern.get(), 0);
  mongoc_write_concern_set_journal(concern.get(), true);
  mongoc_client_set_write_concern(client.get(), concern.get());
  return client;
}

std::string run_command(const std::string& url, const std::string& database,
                        const bson_t* command) {
  auto client = connect(url);
  store::mongo::Document reply;
  bson_error_t error;
  if (!mongoc_client_command_simple(client.get(), database.c_str(), command, nullptr, reply.get(),
                                    &error)) {
    die(error.message);
  }
  char* text = bson_as_relaxed_extended_json(reply.get(), nullptr);
  std::string out = text;
  bson_free(text);
  return out;
}

// The figures' databases, dropped when the program ends.
class ScratchDatabases {
 public:
  explicit ScratchDatabases(std::string url) : url_(std::move(url)) {}
  ~ScratchDatabases() {
    Bson drop(BCON_NEW("dropDatabase", BCON_INT32(1)));
    for (const auto& name : names_) (void)run_command(url_, name, drop.get());
  }
  std::string fresh() {
    names_.push_back("api_broker_bench_" + events::to_string(events::random_uuid()).substr(0, 8));
    return names_.back();
  }

 private:
  std::string url_;
  std::vector<std::string> names_;
};

double timed_on_threads(int threads, const std::function<void(int)>& work) {
  std::vector<std::thread> pool;
  bench::Stopwatch watch;
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { work(t); });
  for (auto& thread : pool) thread.join();
  return watch.seconds();
}

std::unique_ptr<store::EventStore> open_or_die(const std::string& url, const std::string& db) {
  auto store = store::open_mongo_store(store::MongoOptions{.url = url, .database = db});
  if (!store) die(store.error().message);
  return std::move(*store);
}

// Events per second through the store: `events` in all from `connections` stores at once.
double store_appends_per_second(const std::string& url, const std::string& db, int events,
                                int per_batch, int connections) {
  open_or_die(url, db);  // creates the collections, outside the timed part
  std::vector<std::unique_ptr<store::EventStore>> stores;
  for (int c = 0; c < connections; ++c) stores.push_back(open_or_die(url, db));
  const std::vector<events::NewEvent> batch(
      static_cast<std::size_t>(per_batch),
      events::NewEvent{.event = events::Request{"benchmark payload"}});
  const int batches = std::max(1, events / connections / per_batch);
  const double seconds = timed_on_threads(connections, [&](int c) {
    auto& store = stores[static_cast<std::size_t>(c)];
    for (int b = 0; b < batches; ++b) {
      if (auto ids = store->append_batch(batch); !ids) die(ids.error().message);
    }
  });
  return batches * connections * per_batch / seconds;
}

// Documents per second of plain insert_one / insert_many into a collection of the same
// shape: the ceiling of one round trip per append (the store makes four: lock, insert,
// commit, notification).
double raw_inserts_per_second(const std::string& url, const std::string& db, int events,
                              int per_batch, int connections) {
  std::vector<store::mongo::Client> clients;
  for (int c = 0; c < connections; ++c) clients.push_back(connect(url));
  const int batches = std::max(1, events / connections / per_batch);
  const double seconds = timed_on_threads(connections, [&](int c) {
    store::mongo::Collection collection(mongoc_client_get_collection(
        clients[static_cast<std::size_t>(c)].get(), db.c_str(), "raw_events"));
    for (int b = 0; b < batches; ++b) {
      std::vector<Bson> documents;
      std::vector<const bson_t*> pointers;
      for (int i = 0; i < per_batch; ++i) {
        documents.emplace_back(BCON_NEW("_id", BCON_INT64((c * batches + b) * per_batch + i + 1),
                                        "created", BCON_DATE_TIME(0), "class", BCON_UTF8("request"),
                                        "payload", "{", "request", BCON_UTF8("benchmark payload"),
                                        "}"));
        pointers.push_back(documents.back().get());
      }
      bson_error_t error;
      if (!mongoc_collection_insert_many(collection.get(), pointers.data(), pointers.size(),
                                         nullptr, nullptr, &error)) {
        die(error.message);
      }
    }
  });
  return batches * connections * per_batch / seconds;
}

// A child process appends `count` events, 5 ms apart, each carrying the monotonic time of
// its append; this process follows and records how long each took to arrive.
std::vector<double> follow_latencies_ms(const std::string& url, const std::string& db, int count) {
  open_or_die(url, db);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) die("fork failed");
  if (child == 0) {
    auto store = store::open_mongo_store(store::MongoOptions{.url = url, .database = db});
    if (!store) _exit(1);
    std::this_thread::sleep_for(300ms);  // the parent is waiting by then
    for (int i = 0; i < count; ++i) {
      std::this_thread::sleep_for(5ms);
      if (!(*store)->append(events::NewEvent{
              .event = events::Simple{fmt::format("{:.6f}", bench::monotonic_ms())}})) {
        _exit(1);
      }
    }
    _exit(0);
  }
  auto store = open_or_die(url, db);
  std::vector<double> latencies;
  StopSignal stop;
  const auto until = std::chrono::steady_clock::now() + 120s;
  (void)store::follow(
      *store, events::no_event, stop,
      [&](const events::Envelope& envelope) {
        const double sent = std::stod(std::get<events::Simple>(envelope.event).message);
        latencies.push_back(bench::monotonic_ms() - sent);
        return static_cast<int>(latencies.size()) < count &&
               std::chrono::steady_clock::now() < until;
      },
      [](const Error&) { return true; });
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("the appending child failed");
  return latencies;
}

struct Shape {
  const char* name;
  int per_batch;
  int connections;
  int events;
};

}  // namespace

int main(int argc, char** argv) {
  const char* from_env = std::getenv("API_BROKER_MONGODB_URL");
  std::string url = from_env != nullptr ? from_env : "";
  double scale = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--url") url = argv[i + 1];
    if (flag == "--scale") scale = std::max(0.01, std::atof(argv[i + 1]));
  }
  if (url.empty()) {
    fmt::print(stderr,
               "mongo_store_bench: give --url mongodb://... or set API_BROKER_MONGODB_URL "
               "(scripts/mongo-standin.sh start prints a stand-in's)\n");
    return 2;
  }
  Bson build_info(BCON_NEW("buildInfo", BCON_INT32(1)));
  const std::string info = run_command(url, "admin", build_info.get());
  const bool standin = info.find("\"standin\" : true") != std::string::npos;
  if (standin) {
    fmt::print(
        "CAVEAT: the server is the MongoDB wire-protocol STAND-IN of the tests (Python, "
        "tests/mongo_standin), not MongoDB: these figures say nothing about MongoDB's own speed, "
        "only about the store's round trips\n");
  }
  const auto version_at = info.find("\"version\" : \"");
  fmt::print("MongoDB {} event store vs plain libmongoc; write concern majority, journaled\n",
             version_at == std::string::npos
                 ? "?"
                 : info.substr(version_at + 13, info.find('"', version_at + 13) - version_at - 13));
  ScratchDatabases databases(url);
  const Shape shapes[] = {
      {"single event, 1 connection", 1, 1, 300},
      {"single event, 8 connections", 1, 8, 400},
      {"100 events per batch, 1 connection", 100, 1, 5000},
      {"100 events per batch, 8 connections", 100, 8, 8000},
  };
  fmt::print("{:<40}{:>8}{:>16}{:>15}{:>8}\n", "shape", "events", "raw libmongoc/s", "api-broker/s",
             "ratio");
  for (const Shape& shape : shapes) {
    const int events =
        std::max(shape.per_batch * shape.connections, static_cast<int>(shape.events * scale));
    const double raw =
        raw_inserts_per_second(url, databases.fresh(), events, shape.per_batch, shape.connections);
    const double ours = store_appends_per_second(url, databases.fresh(), events, shape.per_batch,
                                                 shape.connections);
    fmt::print("{:<40}{:>8}{:>16.0f}{:>15.0f}{:>7.0f}%\n", shape.name, events, raw, ours,
               100 * ours / raw);
  }
  const auto latencies = follow_latencies_ms(url, databases.fresh(), 200);
  fmt::print(
      "follow wake-up across processes, tailable cursor on the capped collection ({} appends, "
      "5 ms apart): p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n",
      latencies.size(), bench::percentile(latencies, 50), bench::percentile(latencies, 99),
      bench::percentile(latencies, 100));
  if (standin) fmt::print("(measured against the stand-in: not MongoDB's speed)\n");
  return 0;
}
