#include "event_stream.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/stop_signal.hpp"
#include "error.hpp"

namespace api_broker::service {
namespace {

constexpr std::size_t read_batch = 256;
constexpr std::chrono::milliseconds store_retry_delay{500};

std::string sse_event(const events::Envelope& envelope) {
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", events::to_int(envelope.id),
                     events::class_name(envelope.event), events::envelope_to_json(envelope));
}

// One client's stream: its thread reads the log and fills `buffer_`; the server takes it.
class Stream final : public BodyStream, public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::unique_ptr<store::EventStore> store, events::EventId after)
      : store_(std::move(store)), after_(after) {}

  void start(std::function<void()> on_end) {
    std::thread([self = shared_from_this(), on_end = std::move(on_end)] {
      self->run();
      on_end();
    }).detach();
  }

  bool take(std::string& out) override {
    const std::lock_guard lock(mutex_);
    out += buffer_;
    buffer_.clear();
    drained_.notify_one();
    return !ended_;
  }

  void on_ready(std::function<void()> wake) override {
    bool now = false;
    {
      const std::lock_guard lock(mutex_);
      wake_ = std::move(wake);
      now = !buffer_.empty() || ended_;
    }
    if (now) wake_();
  }

  void close() override {
    {
      const std::lock_guard lock(mutex_);
      wake_ = nullptr;
      closed_ = true;
    }
    stop_.request_stop();
    drained_.notify_one();
  }

 private:
  // Appends `text` for the client; false when the client stayed too far behind (dropped) or
  // the stream is closed.
  bool push(const std::string& text) {
    std::unique_lock lock(mutex_);
    const bool room = drained_.wait_for(lock, limits::service_stream_stall, [&] {
      return closed_ || buffer_.size() + text.size() <= limits::service_stream_buffer_bytes_max ||
             buffer_.empty();
    });
    if (closed_ || !room) return false;
    buffer_ += text;
    if (wake_) wake_();
    return true;
  }

  void end() {
    const std::lock_guard lock(mutex_);
    ended_ = true;
    if (wake_) wake_();
  }

  void run() {
    // The client's reconnection delay, and a first line so that it sees the stream open.
    if (!push("retry: 1000\n\n")) return end();
    auto heartbeat_due = std::chrono::steady_clock::now() + limits::service_stream_heartbeat;
    while (!stop_.stop_requested()) {
      auto batch = store_->read_after(after_, read_batch);
      if (!batch) {
        if (batch.error().code == Errc::corrupt && batch.error().related_id != 0) {
          after_ = events::EventId{batch.error().related_id};
          if (!push(fmt::format(": event {} does not decode: skipped\n\n",
                                batch.error().related_id))) {
            break;
          }
          continue;
        }
        stop_.wait_for(store_retry_delay);
        continue;
      }
      if (!batch->empty()) {
        // One event at a time, so the buffer holds at most its bound or one event.
        bool pushed = true;
        for (const auto& envelope : *batch) {
          pushed = push(sse_event(envelope));
          if (!pushed) break;
          after_ = envelope.id;
        }
        if (!pushed) break;
        heartbeat_due = std::chrono::steady_clock::now() + limits::service_stream_heartbeat;
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= heartbeat_due) {
        if (!push(": heartbeat\n\n")) break;
        heartbeat_due = now + limits::service_stream_heartbeat;
        continue;
      }
      (void)store_->wait_for_append(
          after_, std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_due - now),
          stop_);
    }
    (void)store_->close();
    end();
  }

  std::unique_ptr<store::EventStore> store_;
  events::EventId after_;
  StopSignal stop_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::string buffer_;
  std::function<void()> wake_;
  bool ended_ = false;
  bool closed_ = false;
};

}  // namespace

void EventStreams::add_routes(Router& router) {
  router.add("GET", "/v1/events", Needs::read,
             [this](Request& request, const Respond& respond) { open(request, respond); });
}

void EventStreams::open(Request& request, const Respond& respond) {
  std::optional<events::EventId> after;
  const std::string_view last_event_id = request.header("last-event-id");
  const auto parameter = request.parameter("after");
  if (!last_event_id.empty() || parameter) {
    const std::string_view text = !last_event_id.empty() ? last_event_id : *parameter;
    auto parsed = events::parse_event_id(text);
    if (!parsed) {
      respond(error_response(400, code::invalid_id, parsed.error().message));
      return;
    }
    after = *parsed;
  }
  if (shared_->stopping.load()) {
    respond(error_response(503, code::unavailable, "the service is stopping"));
    return;
  }
  if (shared_->open.fetch_add(1) >= limits::service_event_streams_max) {
    shared_->open.fetch_sub(1);
    respond(error_response(503, code::unavailable,
                           fmt::format("{} event streams are open already: try again later",
                                       limits::service_event_streams_max)));
    return;
  }
  auto store = open_store_();
  if (store && !after) {
    auto last = (*store)->last_id();
    if (last) {
      after = *last;
    } else {
      store = fail(std::move(last).error());
    }
  }
  if (!store) {
    shared_->open.fetch_sub(1);
    respond(error_response(store.error()));
    return;
  }
  auto stream = std::make_shared<Stream>(std::move(*store), *after);
  stream->start([shared = shared_] { shared->open.fetch_sub(1); });
  Response response{.status = 200, .content_type = "text/event-stream"};
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Accel-Buffering", "no");
  response.stream = std::move(stream);
  respond(std::move(response));
}

void EventStreams::stop() {
  shared_->stopping.store(true);
  // The server closed every stream before; their threads end at their next store call.
  for (int i = 0; i < 100 && shared_->open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace api_broker::service
