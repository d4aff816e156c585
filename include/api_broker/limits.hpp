#pragma once
// Every queue, loop and payload has a bound; they are named here.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace api_broker::limits {

// Rows returned by one read of the store.
inline constexpr std::size_t read_batch_max = 512;
// The processor stops reading the log while this many requests are unfinished.
inline constexpr std::size_t requests_in_flight_max = 16384;
static_assert(read_batch_max <= requests_in_flight_max);
// Events committed in one group-commit transaction by the processor.
inline constexpr std::size_t append_batch_max = 4096;
// Longest wait between two tries of a store call that failed (the backoff starts at 10 ms).
inline constexpr std::chrono::milliseconds store_retry_delay_max{2000};
// Largest payload (JSON text) accepted for one event.
inline constexpr std::size_t payload_bytes_max = std::size_t{4} * 1024 * 1024;
// Arrays and objects in JSON given as input (an inserted payload, an HTTP request body) nest at
// most this deep: nothing the broker takes needs more, and copying or printing a deeper value
// would recurse that deep.
inline constexpr std::size_t json_depth_max = 32;
// Largest payload read back from a store. Above payload_bytes_max because a backend may print
// the JSON it keeps longer than it was given (PostgreSQL's jsonb adds a space after every ':'
// and ','), and a payload accepted on the way in must read back.
inline constexpr std::size_t stored_payload_bytes_max = 2 * payload_bytes_max;
// Attempts one request may make, whatever its policy says.
inline constexpr std::int64_t retries_max = 1000;
// Response bodies larger than this are not read at all (the attempt fails).
inline constexpr std::size_t response_read_bytes_max = std::size_t{16} * 1024 * 1024;
// The body stored in an api-response event is capped in bytes of its JSON form (a control
// byte takes six), so that the event fits payload_bytes_max whatever the API answers. The cap
// (--response-bytes-max) may be at most this: the payload bound less room for the other
// fields ({"attempt":1000,"response":"","status":999,"truncated":true} and more).
inline constexpr std::size_t response_bytes_stored_max = payload_bytes_max - 4096;
// Default cap on the response body stored in an api-response / api-failure event.
inline constexpr std::size_t response_bytes_stored_default = std::size_t{64} * 1024;
static_assert(response_bytes_stored_default <= response_bytes_stored_max);
// The client keeps at most the cap's number of raw bytes, and reads bodies up to this.
static_assert(response_bytes_stored_max <= response_read_bytes_max);
// Bytes of a non-2xx answer's body kept in an api-failure event, in JSON form like the cap
// (and at most the cap).
inline constexpr std::size_t failure_body_bytes_max = 512;
static_assert(failure_body_bytes_max + 4096 <= payload_bytes_max);
// Interim (1xx) answers skipped before the final answer of one call; more fail the call.
inline constexpr std::size_t http_interim_responses_max = 16;
// Longest a SQLite writer waits for another process's write lock (sleeping 1 ms, 2 ms, ...
// up to 100 ms between tries: SQLite's own handler) before "database is locked".
inline constexpr std::chrono::milliseconds sqlite_busy_wait_max{60000};
// Longest a SQLite reader waits for a new, still empty store file to get its schema from the
// writer that created it, before refusing it as not a store.
inline constexpr std::chrono::milliseconds sqlite_new_store_wait_max{2000};
// Longest Retry-After the broker honours.
inline constexpr std::chrono::seconds retry_after_max{3600};
// Open connections the HTTP client keeps to the API: one per request in flight, so that
// slow answers do not queue behind each other, unless the open-files limit allows fewer
// (http_connections_for).
inline constexpr std::size_t http_connections_max = requests_in_flight_max;
// Descriptors the processor keeps for all but its connections to the API: the store (SQLite's
// files, its notify file and inotify watch, or a PostgreSQL or MongoDB connection), the event
// loop, the standard streams and logs.
inline constexpr std::size_t descriptors_reserved = 32;
// Connections to the API for a process that may open `open_files_max` descriptors (its
// RLIMIT_NOFILE, raised to the hard limit at start): what the reserve leaves, or half of them
// when that is little; at least 1, at most http_connections_max.
constexpr std::size_t http_connections_for(std::uint64_t open_files_max) {
  const std::uint64_t reserved =
      open_files_max / 2 < descriptors_reserved ? open_files_max / 2 : descriptors_reserved;
  const std::uint64_t left = open_files_max - reserved;
  if (left < 1) return 1;
  return left > http_connections_max ? http_connections_max : static_cast<std::size_t>(left);
}
static_assert(http_connections_for(64) == 32 && http_connections_for(1024) == 992);
// Idle keep-alive connections kept per API host; one more going idle closes the oldest.
inline constexpr std::size_t http_idle_connections_max = 256;
// New https connections opening (connecting or in their TLS handshake) at once per pool; more
// calls wait for one of them or for an idle connection. A burst of thousands of calls would
// otherwise start thousands of full handshakes at once, which time out on a busy server
// (broker_bench: 15 % of plain http's rate without this bound); with it, the first handshakes
// finish, their sessions are resumed, and keep-alive connections take the rest.
inline constexpr std::size_t tls_connections_opening_max = 16;
// An idle keep-alive connection unused this long is closed.
inline constexpr std::chrono::seconds http_idle_timeout{10};
// After a new connection failed for want of a descriptor, no new connection is tried for this
// long unless one of the pool's own closes first (its calls wait in the queue meanwhile).
inline constexpr std::chrono::milliseconds http_shortage_retry_delay{50};

// Rounds of attempts one request may have: the first, and one per request-retried that took
// effect. Attempts across all rounds are numbered below retries_max + 1 too (a round's last
// attempt is cut to fit; a request that used them all cannot be retried).
inline constexpr std::uint32_t request_rounds_max = 100;
// Anomalies kept per request; later ones are only counted (RequestState::anomalies_dropped).
inline constexpr std::size_t request_anomalies_max = 16;
// Bytes of an api-failure's text kept per attempt (cut at a UTF-8 character boundary).
inline constexpr std::size_t failure_text_bytes_max = 512;
// Status line plus header fields of one HTTP response.
inline constexpr std::uint32_t http_response_header_bytes_max = 64 * 1024;
// Header fields of one request or target (each also counts toward the event's payload bytes).
inline constexpr std::size_t header_fields_max = 100;
// Names of targets one store may define (a removed one still counts: its name stays known).
inline constexpr std::size_t targets_max = 1000;
// Characters of a bad input quoted in its error message (then "...").
inline constexpr std::size_t quoted_input_chars_max = 200;
// PostgreSQL refuses single values above 1 GB; a batch is sent as one array per column.
inline constexpr std::size_t postgresql_batch_bytes_max = std::size_t{512} * 1024 * 1024;
// MongoDB's append lock: how long an appender waits for it, and how many times an append
// that lost it (Errc::cancelled) is tried in all.
inline constexpr std::chrono::milliseconds mongodb_append_lock_wait_max{30'000};
inline constexpr int mongodb_append_attempts_max = 4;
// MongoDB's capped collection of append notifications: small documents, so 1 MiB holds the
// last 10,000.
inline constexpr std::int64_t mongodb_notifications_bytes = std::int64_t{1024} * 1024;
inline constexpr std::int64_t mongodb_notifications_max = 10000;

// Outcomes a circuit breaker keeps for its failure ratio (the newest, within its window).
inline constexpr std::size_t breaker_window_outcomes_max = 4096;
// Outcomes in the window below which the ratio does not open a breaker: two failures of three
// calls say little about a partner.
inline constexpr std::size_t breaker_window_calls_min = 10;
// The read model (view::RequestView): bytes kept of a request's body and of each attempt's
// failure text or answer (cut at a UTF-8 character boundary), and requests in one page.
inline constexpr std::size_t view_excerpt_bytes_max = 200;
inline constexpr std::size_t view_page_max = 1000;

// The HTTP service (api-broker serve).
// Connections open at once; one more is closed at accept.
inline constexpr std::size_t service_connections_max = 1024;
// Body of one API request (a batch included): a request's body is at most payload_bytes_max
// and its JSON form may take more.
inline constexpr std::size_t service_body_bytes_max = std::size_t{8} * 1024 * 1024;
// Request line plus header fields of one API request.
inline constexpr std::uint32_t service_header_bytes_max = 16 * 1024;
// A keep-alive connection idle this long is closed (a long poll or a stream is not idle).
inline constexpr std::chrono::seconds service_idle_timeout{60};
// Requests in one POST /v1/requests:batch.
inline constexpr std::size_t service_batch_requests_max = 1000;
// Submissions waiting for the group commit; more are answered 503 at once.
inline constexpr std::size_t service_submissions_queued_max = 65536;
// Submissions committed in one transaction by the service's submitter.
inline constexpr std::size_t service_commit_batch_max = 4096;
// Longest ?wait= of a long poll.
inline constexpr std::chrono::seconds service_wait_max{60};
// Requests held at once waiting for the read model (long polls with ?wait=).
inline constexpr std::size_t service_waiters_max = 4096;
// Requests in one page of GET /v1/requests (?limit=).
inline constexpr std::size_t service_list_limit_max = 1000;
// Event streams (GET /v1/events) open at once; each has a thread and a store connection.
inline constexpr std::size_t service_event_streams_max = 64;
// Bytes an event stream holds for a client that does not read; a client that stays this far
// behind for service_stream_stall is dropped.
inline constexpr std::size_t service_stream_buffer_bytes_max = std::size_t{1} * 1024 * 1024;
inline constexpr std::chrono::seconds service_stream_stall{10};
// A comment line on an idle event stream, so that proxies and clients see it alive.
inline constexpr std::chrono::seconds service_stream_heartbeat{15};
// Bytes of the reason given to cancel or retry.
inline constexpr std::size_t reason_bytes_max = 1024;
// Bytes of an idempotency key.
inline constexpr std::size_t idempotency_key_bytes_max = 256;

// The dashboard's charts (GET /v1/stats): one-second buckets kept, at most.
inline constexpr std::size_t stats_series_seconds_max = 3600;
// Distinct `target` label values of the metrics; further targets share the value "(other)",
// so that requests naming odd targets cannot grow the scrape without bound.
inline constexpr std::size_t metrics_targets_max = 256;
// Finished requests whose target the metrics remember, so that a request-retried after them
// is counted under its target (older ones count under "(unknown)").
inline constexpr std::size_t metrics_finished_remembered_max = 65536;

// Largest --config file read (a TOML file of options is a few kilobytes).
inline constexpr std::size_t config_file_bytes_max = std::size_t{1} * 1024 * 1024;

}  // namespace api_broker::limits
