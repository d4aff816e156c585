#include "notification_watcher.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "api_broker/limits.hpp"

namespace api_broker::store::mongo {

Result<void> prepare_notifications(mongoc_database_t* database, std::string_view target) {
  Bson options(BCON_NEW("capped", BCON_BOOL(true), "size",
                        BCON_INT64(limits::mongodb_notifications_bytes), "max",
                        BCON_INT64(limits::mongodb_notifications_max)));
  bson_error_t error;
  Collection notifications(
      mongoc_database_create_collection(database, "notifications", options.get(), &error));
  if (!notifications) {
    if (server_code(error) != namespace_exists_code) {
      return fail(error_of(error, "create notifications", target));
    }
    notifications.reset(mongoc_database_get_collection(database, "notifications"));
  }
  Bson seed(BCON_NEW("last", BCON_INT64(0), "seed", BCON_BOOL(true)));
  if (!mongoc_collection_insert_one(notifications.get(), seed.get(), nullptr, nullptr, &error)) {
    return fail(error_of(error, "notification seed", target));
  }
  return {};
}

NotificationWatcher::NotificationWatcher(const mongoc_uri_t* uri, std::string database,
                                         std::string target)
    : uri_(mongoc_uri_copy(uri)),
      database_(std::move(database)),
      target_(std::move(target)),
      event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  API_BROKER_ASSERT(event_fd_ >= 0);
  thread_ = std::thread([this] { run(); });
}

NotificationWatcher::~NotificationWatcher() {
  stopping_.request_stop();
  thread_.join();
  ::close(event_fd_);
}

void NotificationWatcher::drain() noexcept {
  eventfd_t ignored = 0;
  (void)eventfd_read(event_fd_, &ignored);
}

void NotificationWatcher::note(std::int64_t last) noexcept {
  if (last <= 0) return;
  const auto value = static_cast<std::uint64_t>(last);
  std::uint64_t seen = newest_.load(std::memory_order_relaxed);
  while (value > seen) {
    if (newest_.compare_exchange_weak(seen, value, std::memory_order_acq_rel)) {
      (void)eventfd_write(event_fd_, 1);
      return;
    }
  }
}

void NotificationWatcher::run() {
  using namespace std::chrono_literals;
  Client client(mongoc_client_new_from_uri(uri_.get()));
  if (!client) return;  // the URI was checked when the store opened
  mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  Database database(mongoc_client_get_database(client.get(), database_.c_str()));
  Collection notifications(mongoc_database_get_collection(database.get(), "notifications"));
  auto backoff = 100ms;
  while (!stopping_.stop_requested()) {
    if (tail(database.get(), notifications.get())) {
      backoff = 100ms;
      continue;
    }
    stopping_.wait_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

bool NotificationWatcher::tail(mongoc_database_t* database, mongoc_collection_t* notifications) {
  Bson filter(bson_new());
  Bson opts(BCON_NEW("tailable", BCON_BOOL(true), "awaitData", BCON_BOOL(true), "maxAwaitTimeMS",
                     BCON_INT64(await_ms), "projection", "{", "last", BCON_INT32(1), "}"));
  Cursor cursor(mongoc_collection_find_with_opts(notifications, filter.get(), opts.get(), nullptr));
  const bson_t* document = nullptr;
  bool read_any = false;
  while (!stopping_.stop_requested()) {
    if (mongoc_cursor_next(cursor.get(), &document)) {
      read_any = true;
      note(int_field(document, "last").value_or(0));
      continue;
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) return read_any;  // e.g. CappedPositionLost
    if (!mongoc_cursor_more(cursor.get())) {
      // Dead without an error: the collection is empty (the seed was lost) or was dropped.
      if (!read_any) (void)prepare_notifications(database, target_);
      return read_any;
    }
  }
  return true;
}

}  // namespace api_broker::store::mongo
