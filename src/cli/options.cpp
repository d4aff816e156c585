#include "options.hpp"

#include <fmt/format.h>

#include <chrono>

#include "api_broker/core/policy.hpp"
#include "api_broker/core/target_limits.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/events/utf8.hpp"
#include "api_broker/http/url.hpp"
#include "api_broker/store/open_store.hpp"

namespace api_broker::cli {

Result<events::EventId> optional_event_id(std::string_view text) {
  if (text.empty()) return events::no_event;
  return events::parse_event_id(text);
}

namespace {

// Numbers on the command line are decimal: CLI11 would read 0x10 as 16 and 0b11 as 3.
CLI::Validator decimal() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        for (const char c : text) {
          const bool fits =
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E';
          if (!fits) return "'" + events::printable(text) + "' is not a decimal number";
        }
        return {};
      },
      "DECIMAL", "decimal");
}

// --external-uuid: the text given, even "" (which optional_uuid refuses).
void add_uuid_option(CLI::App& command, std::optional<std::string>& target,
                     const std::string& description) {
  command.add_option_function<std::string>(
      "--external-uuid", [&target](const std::string& text) { target = text; }, description);
}

}  // namespace

Result<std::optional<events::Uuid>> optional_uuid(const std::optional<std::string>& text) {
  if (!text) return std::optional<events::Uuid>{};
  if (text->empty()) {
    return fail(Errc::invalid_input,
                "--external-uuid is empty: give a UUID, or leave the option out for none");
  }
  auto uuid = events::parse_external_uuid(*text);
  if (!uuid) return fail(std::move(uuid).error());
  return std::optional<events::Uuid>{*uuid};
}

Result<events::Event> event_from_cli(std::string_view class_tag, std::string_view data) {
  // JSON holds only UTF-8: other bytes would be stored as U+FFFD, not as given.
  if (const auto bad = events::first_invalid_utf8(data)) {
    return fail(Errc::invalid_input,
                fmt::format("DATA is not UTF-8 text: byte {} (0x{:02x}) starts no UTF-8 character",
                            *bad, static_cast<unsigned char>(data[*bad])));
  }
  const std::string text(data);
  if (class_tag == "simple") return events::Event{events::Simple{text}};
  if (class_tag == "request") return events::Event{events::Request{text}};
  if (class_tag == "response") return events::Event{events::ApiResponse{.response = text}};
  if (class_tag == "failure") return events::Event{events::ApiFailure{.failure = text}};
  auto event = events::decode_input_payload(class_tag, data);
  if (!event && event.error().message.rfind("unknown event class", 0) == 0) {
    std::string known;
    for (const auto name : events::class_names()) known += fmt::format(" {}", name);
    return fail(Errc::invalid_input,
                fmt::format("unknown event class '{}'; known:{} (and the prototype's response, "
                            "failure)",
                            events::printable(class_tag), known));
  }
  return event;
}

void add_insert_options(CLI::App& command, InsertArgs& args) {
  command.add_option("CLASS", args.class_tag, "Event class")->required();
  command.add_option("DATA", args.data, "Event data (see above)")->required();
  add_uuid_option(command, args.external_uuid,
                  "Client-chosen UUID (not the nil one); a second insert with the same one fails "
                  "(exit 3) and stores nothing");
  command.add_option("--causation", args.causation, "Id of the event that caused this one");
}

Result<events::NewEvent> to_new_event(const InsertArgs& args) {
  auto event = event_from_cli(args.class_tag, args.data);
  if (!event) return fail(std::move(event).error());
  // A configuration is checked as `configure` checks it: the processor would ignore it.
  if (const auto* configuration = std::get_if<events::Configuration>(&*event)) {
    if (auto valid = core::apply(core::Policy{}, *configuration); !valid) {
      return fail(std::move(valid).error());
    }
  }
  auto uuid = optional_uuid(args.external_uuid);
  if (!uuid) return fail(std::move(uuid).error());
  auto causation = optional_event_id(args.causation);
  if (!causation) return fail(std::move(causation).error());
  return events::NewEvent{
      .event = std::move(*event), .causation_id = *causation, .external_uuid = *uuid};
}

void add_configure_options(CLI::App& command, ConfigureArgs& args) {
  events::Configuration& c = args.configuration;
  command.add_option("--retries", c.retries, "Attempts after the first one")->check(decimal());
  command
      .add_option("--timeout", c.timeout,
                  "Seconds per attempt; 0 = none. An answer that comes after its attempt's "
                  "timeout still counts while the request is open (during the backoff, or while "
                  "a later attempt runs); the last attempt's timeout fails the request and "
                  "cancels its call")
      ->check(decimal());
  command.add_option("--backoff-initial", c.backoff_initial, "Seconds before the first retry")
      ->check(decimal());
  command
      .add_option("--backoff-multiplier", c.backoff_multiplier,
                  "Growth of the delay per retry (>= 1)")
      ->check(decimal());
  command.add_option("--backoff-max", c.backoff_max, "Longest delay between attempts, s")
      ->check(decimal());
  command
      .add_option("--backoff-jitter", c.backoff_jitter,
                  "Fraction (0..1) of each delay taken off at random")
      ->check(decimal());
  command
      .add_option("--deadline", c.deadline,
                  "Seconds from a request to its last attempt's end; 0 = none")
      ->check(decimal());
  add_uuid_option(command, args.external_uuid, "Client-chosen UUID (not the nil one), unique");
}

Result<events::NewEvent> to_configuration_event(const ConfigureArgs& args) {
  if (auto valid = core::apply(core::Policy{}, args.configuration); !valid) {
    return fail(std::move(valid).error());
  }
  auto uuid = optional_uuid(args.external_uuid);
  if (!uuid) return fail(std::move(uuid).error());
  return events::NewEvent{.event = args.configuration, .external_uuid = *uuid};
}

namespace {

// The limits of the default target (the plain requests to --api-url); a named target's are
// in its `target` event.
void add_target_limit_options(CLI::App& command, ProcessArgs& args) {
  core::TargetLimits& t = args.target;
  command
      .add_option("--calls-max", t.calls_max,
                  "Calls to the API at once, at most; 0 = no bound. Requests waiting out a "
                  "backoff take no call; a timed-out call kept open (--on-timeout keep) keeps "
                  "its place until it ends")
      ->check(decimal())
      ->capture_default_str();
  command
      .add_option("--rate", t.rate, "Calls started per second at most (a token bucket); 0 = none")
      ->capture_default_str();
  command.add_option("--burst", t.burst, "Calls the bucket lets go at once; 0 = max(1, rate)")
      ->capture_default_str();
  command
      .add_option("--breaker-failures", t.breaker_failures,
                  "Retryable failures (and timeouts) in a row that open the circuit breaker; "
                  "0 = off")
      ->check(decimal())
      ->capture_default_str();
  command
      .add_option("--breaker-ratio", t.breaker_ratio,
                  fmt::format("Failure ratio over --breaker-window that opens the breaker, with "
                              "at least {} calls in the window; 0 = off",
                              limits::breaker_window_calls_min))
      ->capture_default_str();
  command
      .add_option("--breaker-window", t.breaker_window,
                  "Seconds of calls the failure ratio counts; 0 = 10")
      ->capture_default_str();
  command
      .add_option("--breaker-pause", t.breaker_pause,
                  "Seconds the breaker stays open before it lets one probe through; 0 = 5")
      ->capture_default_str();
  command
      .add_option("--on-timeout", args.on_timeout,
                  "keep: a timed-out call stays open and its late answer still counts; abandon: "
                  "it is cancelled and its connection closed, so calls never overlap")
      ->capture_default_str();
}

}  // namespace

void add_process_options(CLI::App& command, ProcessArgs& args) {
  command.add_option("--api-url", args.api_url, "Base URL of the API; calls POST <url>/api")
      ->envname("API_URL")
      ->capture_default_str();
  command.add_option("--start-after", args.start_after,
                     "Start after this event id, with the policy in force there, instead of at the "
                     "checkpoint");
  command
      .add_option("--response-bytes-max", args.response_bytes_stored_max,
                  fmt::format("Bytes of a response body stored in an api-response event, "
                              "counted as stored (JSON: a control byte takes 6), 1 to {} "
                              "(longer ones are cut and marked truncated; an api-failure keeps "
                              "at most {} bytes of its body; a body over {} bytes is not read "
                              "and fails the attempt)",
                              limits::response_bytes_stored_max, limits::failure_body_bytes_max,
                              limits::response_read_bytes_max))
      ->check(decimal())
      ->capture_default_str();
  command
      .add_option("--lease-ttl", args.lease_ttl,
                  "Seconds after which a dead processor's lease can be taken over")
      ->check(decimal())
      ->capture_default_str();
  command
      .add_option("--in-flight-max", args.in_flight_max,
                  "Requests in flight at most; newer ones wait their turn")
      ->check(decimal())
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  add_target_limit_options(command, args);
  command.add_flag("--no-standby", args.no_standby,
                   "Exit (code 1) instead of waiting when another processor holds the lease, or "
                   "takes it over from this one");
  command
      .add_option(
          "--log-level", args.log_level,
          fmt::format("{} (debug: one line per event the processor reads)", store::log_level_names))
      ->capture_default_str();
}

Result<broker::ProcessorOptions> to_processor_options(const ProcessArgs& args) {
  broker::ProcessorOptions options;
  auto url = http::parse_url(args.api_url);
  if (!url) return fail(std::move(url).error());
  options.api = *url;
  if (!args.start_after.empty()) {
    auto id = events::parse_event_id(args.start_after);
    if (!id) return fail(std::move(id).error());
    options.start_after = *id;
  }
  if (args.response_bytes_stored_max == 0 ||
      args.response_bytes_stored_max > limits::response_bytes_stored_max) {
    return fail(Errc::invalid_input,
                fmt::format("--response-bytes-max must be between 1 and {} (the store takes "
                            "events up to {} bytes)",
                            limits::response_bytes_stored_max, limits::payload_bytes_max));
  }
  options.response_bytes_stored_max = args.response_bytes_stored_max;
  // NaN fails both comparisons, so test for the valid range.
  if (!(args.lease_ttl >= 0.3 && args.lease_ttl <= 3600)) {
    return fail(Errc::invalid_input, "--lease-ttl must be between 0.3 and 3600 s");
  }
  options.lease_ttl = std::chrono::milliseconds(static_cast<long>(args.lease_ttl * 1000));
  options.standby = !args.no_standby;
  if (args.in_flight_max == 0) {
    return fail(Errc::invalid_input, "--in-flight-max must be at least 1");
  }
  options.requests_in_flight_max = args.in_flight_max;
  if (args.on_timeout != "keep" && args.on_timeout != "abandon") {
    return fail(Errc::invalid_input, "--on-timeout must be keep or abandon");
  }
  options.default_target = args.target;
  options.default_target.abandon_on_timeout = args.on_timeout == "abandon";
  if (auto limits = core::validate(options.default_target); !limits) {
    return fail(std::move(limits).error());
  }
  return options;
}

}  // namespace api_broker::cli
