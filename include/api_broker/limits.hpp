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
// Largest payload (JSON text) accepted for one event.
inline constexpr std::size_t payload_bytes_max = 4 * 1024 * 1024;
// Largest payload read back from a store. Above payload_bytes_max because a backend may print
// the JSON it keeps longer than it was given (PostgreSQL's jsonb adds a space after every ':'
// and ','), and a payload accepted on the way in must read back.
inline constexpr std::size_t stored_payload_bytes_max = 2 * payload_bytes_max;
// Attempts one request may make, whatever its policy says.
inline constexpr std::int64_t retries_max = 1000;
// Response bodies larger than this are not read at all (the attempt fails).
inline constexpr std::size_t response_read_bytes_max = 16 * 1024 * 1024;
// Default cap on the response body stored in an api-response / api-failure event.
inline constexpr std::size_t response_bytes_stored_default = 64 * 1024;
// Bytes of a non-2xx answer's body kept in an api-failure event (at most the stored cap).
inline constexpr std::size_t failure_body_bytes_max = 512;
// Longest a SQLite writer waits for another process's write lock (sleeping 1 ms, 2 ms, ...
// up to sqlite_busy_sleep_max between tries) before "database is locked".
inline constexpr std::chrono::milliseconds sqlite_busy_wait_max{60000};
inline constexpr std::chrono::milliseconds sqlite_busy_sleep_max{100};
// Longest Retry-After the broker honours.
inline constexpr std::chrono::seconds retry_after_max{3600};
// Open connections the HTTP client keeps to the API: one per request in flight, so that
// slow answers do not queue behind each other (the processor raises its open-files limit).
inline constexpr std::size_t http_connections_max = requests_in_flight_max;

}  // namespace api_broker::limits
