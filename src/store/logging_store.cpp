#include "api_broker/store/logging_store.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api_broker/events/codec.hpp"

namespace api_broker::store {

Result<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  if (text == "crit") return LogLevel::crit;
  if (text == "off") return LogLevel::off;
  return fail(Errc::invalid_input, fmt::format("unknown log level '{}' (use one of {})",
                                               events::printable(text), log_level_names));
}

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
    case LogLevel::crit:
      return spdlog::level::critical;
    case LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

class LoggingStore final : public EventStore {
 public:
  LoggingStore(std::unique_ptr<EventStore> inner, LogLevel level)
      : inner_(std::move(inner)),
        log_(spdlog::get("eventstore") ? spdlog::get("eventstore")
                                       : spdlog::stderr_color_mt("eventstore")) {
    log_->set_level(to_spdlog(level));
  }

  Result<EventId> append(const NewEvent& event) override {
    auto id = inner_->append(event);
    if (id) {
      log_->debug("append {} cause={} -> id {}", events::class_name(event.event),
                  events::to_int(event.causation_id), events::to_int(*id));
    }
    return report("append", std::move(id));
  }
  Result<std::vector<EventId>> append_batch(std::span<const NewEvent> batch) override {
    auto ids = inner_->append_batch(batch);
    if (ids && !ids->empty()) {
      log_->debug("append batch of {} -> ids {}..{}", batch.size(), events::to_int(ids->front()),
                  events::to_int(ids->back()));
    }
    return report("append batch", std::move(ids));
  }
  Result<std::vector<EventId>> append_batch_fenced(std::span<const NewEvent> batch,
                                                   const Fence& fence) override {
    auto ids = inner_->append_batch_fenced(batch, fence);
    if (ids && !ids->empty()) {
      log_->debug("append batch of {} under lease epoch {} -> ids {}..{}", batch.size(),
                  fence.epoch, events::to_int(ids->front()), events::to_int(ids->back()));
    }
    return report("append batch", std::move(ids));
  }
  Result<Envelope> get(EventId id) override {
    log_->debug("get {}", events::to_int(id));
    return report("get", inner_->get(id));
  }
  Result<EventId> resolve(const Uuid& uuid) override {
    log_->debug("resolve {}", events::to_string(uuid));
    return report("resolve", inner_->resolve(uuid));
  }
  Result<std::vector<Envelope>> read_after(EventId after, std::size_t limit) override {
    auto batch = inner_->read_after(after, limit);
    if (batch) log_->debug("read after {}: {} events", events::to_int(after), batch->size());
    return report("read", std::move(batch));
  }
  Result<EventId> last_id() override { return report("last id", inner_->last_id()); }
  Result<void> wait_for_append(EventId after, std::chrono::milliseconds timeout,
                               const StopSignal& stop) override {
    return report("wait", inner_->wait_for_append(after, timeout, stop));
  }
  Result<std::optional<std::string>> load_checkpoint(std::string_view name) override {
    log_->debug("load checkpoint {}", name);
    return report("load checkpoint", inner_->load_checkpoint(name));
  }
  Result<void> save_checkpoint(std::string_view name, std::string_view value) override {
    log_->debug("save checkpoint {} = {}", name, value);
    return report("save checkpoint", inner_->save_checkpoint(name, value));
  }
  Result<LeaseHolder> acquire_lease(std::string_view name, std::string_view owner,
                                    std::chrono::milliseconds ttl) override {
    auto holder = inner_->acquire_lease(name, owner, ttl);
    if (holder) {
      log_->debug("lease {} asked by {}: held by {} at epoch {}", name, owner, holder->owner,
                  holder->epoch);
    }
    return report("acquire lease", std::move(holder));
  }
  Result<void> release_lease(std::string_view name, std::string_view owner) override {
    log_->debug("release lease {} by {}", name, owner);
    return report("release lease", inner_->release_lease(name, owner));
  }
  Result<void> close() override {
    log_->debug("close");
    return report("close", inner_->close());
  }

 private:
  template <class R>
  R report(const char* operation, R result) {
    if (!result) {
      const Error& error = result.error();
      const bool expected = error.code == Errc::duplicate || error.code == Errc::not_found;
      log_->log(expected ? spdlog::level::warn : spdlog::level::err, "{} failed ({}): {}",
                operation, to_string(error.code), error.message);
    }
    return result;
  }

  std::unique_ptr<EventStore> inner_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

std::unique_ptr<EventStore> make_logging_store(std::unique_ptr<EventStore> inner, LogLevel level) {
  return std::make_unique<LoggingStore>(std::move(inner), level);
}

}  // namespace api_broker::store
