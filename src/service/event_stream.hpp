#pragma once
// GET /v1/events: the log as Server-Sent Events ("id: N", "event: CLASS", "data: ENVELOPE
// JSON"), from after ?after= or the Last-Event-ID header (a reconnecting client resumes where
// it stopped), else from the end of the log. Each stream has its own thread and store
// connection, opened on that thread before the answer: a store that cannot be opened is a 503
// (unavailable) like any other request's, with no stream. At most
// limits::service_event_streams_max at once. It holds at most
// limits::service_stream_buffer_bytes_max for its client: a client that stays that far behind
// for limits::service_stream_stall is dropped, not buffered forever. An idle stream sends a
// heartbeat comment every limits::service_stream_heartbeat.

#include <atomic>
#include <memory>

#include "api_broker/broker/processor.hpp"
#include "router.hpp"

namespace api_broker::service {

class EventStreams {
 public:
  explicit EventStreams(broker::StoreOpener open_store) : open_store_(std::move(open_store)) {}
  ~EventStreams() { stop(); }
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  void add_routes(Router& router);
  // Ends every stream and waits (bounded) for their threads.
  void stop();

 private:
  void open(Request& request, const Respond& respond);

  const broker::StoreOpener open_store_;
  // Shared with each stream's thread, which outlives its connection briefly.
  struct Shared {
    std::atomic<std::size_t> open{0};
    std::atomic<bool> stopping{false};
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace api_broker::service
