#include "conformance/store_backends.hpp"

#include "api_broker/store/memory_store.hpp"
#include "api_broker/store/sqlite_store.hpp"
#include "conformance/mongo_fixture.hpp"
#include "conformance/postgresql_fixture.hpp"
#include "support/temp_dir.hpp"

namespace api_broker::testing {
namespace {

class MemoryFixture final : public StoreFixture {
 public:
  Result<std::unique_ptr<store::EventStore>> open() override {
    return std::unique_ptr<store::EventStore>(std::make_unique<store::MemoryStore>(log_));
  }
  bool shared_across_processes() const override { return false; }

 private:
  std::shared_ptr<store::MemoryLog> log_ = std::make_shared<store::MemoryLog>();
};

class SqliteFixture final : public StoreFixture {
 public:
  Result<std::unique_ptr<store::EventStore>> open() override {
    return store::open_sqlite_store(store::SqliteOptions{.path = dir_.file("events.db")});
  }
  bool shared_across_processes() const override { return true; }

 private:
  TempDir dir_;
};

}  // namespace

const std::vector<Backend>& backends() {
  static const std::vector<Backend> all = {
      {"memory", [] { return std::make_unique<MemoryFixture>(); }},
      {"sqlite", [] { return std::make_unique<SqliteFixture>(); }},
      {"postgresql", [] { return std::make_unique<PostgresFixture>(); }},
      {"mongodb", [] { return std::make_unique<MongoFixture>(); }},
  };
  return all;
}

}  // namespace api_broker::testing
