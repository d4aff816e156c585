#include "event_stream.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <optional>
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

class Feed;

// What the server holds of a stream: the BodyStream over its Feed. The server's letting go of
// it (the connection ended, or an answer that came too late for it) closes the feed, so that
// its thread never outlives the client.
class StreamBody final : public BodyStream {
 public:
  explicit StreamBody(std::shared_ptr<Feed> feed) : feed_(std::move(feed)) {}
  ~StreamBody() override;
  StreamBody(const StreamBody&) = delete;
  StreamBody& operator=(const StreamBody&) = delete;
  bool take(std::string& out) override;
  void on_ready(std::function<void()> wake) override;
  void close() override;

 private:
  std::shared_ptr<Feed> feed_;
};

// One client's stream: its thread reads the log and fills `buffer_`; the server takes it
// through a StreamBody, whose end (the server let go of it) stops the thread.
class Feed final : public std::enable_shared_from_this<Feed> {
 public:
  // `after` unset: from the end of the log as it is when the store is opened.
  Feed(broker::StoreOpener open_store, std::optional<events::EventId> after)
      : open_store_(std::move(open_store)),
        after_(after.value_or(events::EventId{})),
        from_end_(!after) {}

  // Opens the store on the stream's own thread (a connection may take long to open: the
  // server's thread must not wait for it), then answers: 200 and the stream, or the error of a
  // store that cannot be opened (503 unavailable) without a stream. `on_end` runs on that
  // thread when it is done either way.
  void start(Respond respond, std::function<bool()> stopping, std::function<void()> on_end) {
    std::thread([self = shared_from_this(), respond = std::move(respond),
                 stopping = std::move(stopping), on_end = std::move(on_end)] {
      auto opened = self->open();
      if (opened && stopping()) {
        opened = fail(Errc::unavailable, "the service is stopping");
      }
      if (!opened) {
        respond(error_response(opened.error()));
      } else {
        Response response{.status = 200, .content_type = "text/event-stream"};
        response.headers.emplace_back("Cache-Control", "no-cache");
        response.headers.emplace_back("X-Accel-Buffering", "no");
        response.stream = std::make_shared<StreamBody>(self);
        respond(std::move(response));
        self->run();
      }
      on_end();
    }).detach();
  }

  bool take(std::string& out) {
    const std::lock_guard lock(mutex_);
    out += buffer_;
    buffer_.clear();
    drained_.notify_one();
    return !ended_;
  }

  void on_ready(std::function<void()> wake) {
    bool now = false;
    {
      const std::lock_guard lock(mutex_);
      wake_ = std::move(wake);
      now = !buffer_.empty() || ended_;
    }
    if (now) wake_();
  }

  void close() {
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

  // Opens the store and fixes the position to read after; the store's error if it cannot.
  Result<void> open() {
    auto store = open_store_();
    if (!store) return fail(std::move(store).error());
    if (from_end_) {
      auto last = (*store)->last_id();
      if (!last) return fail(std::move(last).error());
      after_ = *last;
    }
    store_ = std::move(*store);
    return {};
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

  const broker::StoreOpener open_store_;
  std::unique_ptr<store::EventStore> store_;  // opened by open(), on the stream's thread
  events::EventId after_;
  const bool from_end_;
  StopSignal stop_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::string buffer_;
  std::function<void()> wake_;
  bool ended_ = false;
  bool closed_ = false;
};

StreamBody::~StreamBody() { feed_->close(); }
bool StreamBody::take(std::string& out) { return feed_->take(out); }
void StreamBody::on_ready(std::function<void()> wake) { feed_->on_ready(std::move(wake)); }
void StreamBody::close() { feed_->close(); }

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
  auto feed = std::make_shared<Feed>(open_store_, after);
  feed->start(
      respond, [shared = shared_] { return shared->stopping.load(); },
      [shared = shared_] { shared->open.fetch_sub(1); });
}

void EventStreams::stop() {
  shared_->stopping.store(true);
  // The server closed every stream before; their threads end at their next store call.
  for (int i = 0; i < 100 && shared_->open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace api_broker::service
