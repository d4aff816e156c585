#include "conformance/mongo_fixture.hpp"

#include <cstdio>
#include <cstdlib>

#include "api_broker/events/uuid.hpp"
#include "mongo_support.hpp"

namespace api_broker::testing {
namespace {

using store::mongo::Bson;

Result<std::string> run_command(const std::string& url, const std::string& database,
                                const std::string& json) {
  store::mongo::ensure_driver();
  bson_error_t error;
  Bson command(bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json.data()),
                                  static_cast<ssize_t>(json.size()), &error));
  if (!command) return fail(Errc::invalid_input, "bad JSON command: " + std::string(error.message));
  store::mongo::Client client(mongoc_client_new(url.c_str()));
  if (!client) return fail(Errc::invalid_input, "bad mongodb URL " + url);
  mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  store::mongo::Document reply;
  if (!mongoc_client_command_simple(client.get(), database.c_str(), command.get(), nullptr,
                                    reply.get(), &error)) {
    return fail(Errc::unavailable, json + ": " + error.message);
  }
  char* text = bson_as_relaxed_extended_json(reply.get(), nullptr);
  std::string out = text;
  bson_free(text);
  return out;
}

}  // namespace

MongoFixture::MongoFixture() {
  const char* url = std::getenv(mongo_url_variable);
  if (url == nullptr || *url == '\0') {
    unavailable_ = std::string(mongo_url_variable) +
                   " is not set (scripts/mongo-standin.sh start prints the URL of a stand-in; "
                   "scripts/test.sh sets it)";
    return;
  }
  url_ = url;
  database_ = "api_broker_test_" + events::to_string(events::random_uuid()).substr(0, 8) +
              events::to_string(events::random_uuid()).substr(0, 8);
  auto info = run_command(url_, "admin", R"({"buildInfo": 1})");
  standin_ = info && info->find("\"standin\" : true") != std::string::npos;
  static bool told = false;
  if (!told) {
    told = true;
    std::fprintf(stderr, "mongodb tests run against %s at %s\n",
                 standin_ ? "the MongoDB wire-protocol STAND-IN (tests/mongo_standin), not MongoDB"
                          : "a MongoDB server",
                 url_.c_str());
  }
}

MongoFixture::~MongoFixture() {
  if (!unavailable_.empty()) return;
  (void)run_command(url_, database_, R"({"dropDatabase": 1})");
}

store::MongoOptions MongoFixture::options() const {
  return store::MongoOptions{.url = url_, .database = database_};
}

Result<std::unique_ptr<store::EventStore>> MongoFixture::open() {
  if (!unavailable_.empty()) return fail(Errc::unavailable, unavailable_);
  return store::open_mongo_store(options());
}

std::optional<std::pair<std::string, int>> MongoFixture::single_host() const {
  std::string rest = url_;
  if (!rest.starts_with("mongodb://")) return std::nullopt;
  rest = rest.substr(10);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (const auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (rest.find(',') != std::string::npos || rest.starts_with("[")) return std::nullopt;
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return std::make_pair(rest, 27017);
  return std::make_pair(rest.substr(0, colon), std::stoi(rest.substr(colon + 1)));
}

Result<std::string> MongoFixture::command(const std::string& json, bool on_admin) const {
  if (!unavailable_.empty()) return fail(Errc::unavailable, unavailable_);
  return run_command(url_, on_admin ? "admin" : database_, json);
}

}  // namespace api_broker::testing
