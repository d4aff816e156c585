#pragma once
// The option values of the commands that take more than a store: how each is declared to
// CLI11, and what its text means once parsed, as pure functions with a one-line
// Errc::invalid_input for a bad value. No I/O, so the command line can be tested and fuzzed
// without a store or a network (fuzz/cli_args.cpp).

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_broker/broker/processor_options.hpp"
#include "api_broker/events/envelope.hpp"
#include "api_broker/limits.hpp"
#include "api_broker/result.hpp"

namespace api_broker::cli {

// An optional id option: "" is none (no_event), anything else must be an event id.
Result<events::EventId> optional_event_id(std::string_view text);

// An optional --external-uuid: not given (nullopt) is none; given, it must be a UUID other
// than the nil one ("" is refused: the client believes it is protected).
Result<std::optional<events::Uuid>> optional_uuid(const std::optional<std::string>& text);

// `insert CLASS DATA`: simple and request take text (the prototype's), and so do its aliases
// response and failure (the text of attempt 0); every other class takes its JSON payload.
// DATA must be UTF-8 (JSON cannot hold other bytes as they are); a JSON payload holds only
// its class's fields, each once (events::decode_input_payload).
Result<events::Event> event_from_cli(std::string_view class_tag, std::string_view data);

struct InsertArgs {
  std::string class_tag, data, causation;
  std::optional<std::string> external_uuid;  // nullopt: not given
  // Of a request (refused with another class): what it sends, and where.
  std::string method, url, target, path, content_type;
  std::vector<std::string> headers;     // "Name: value", each
  std::vector<std::string> allow_urls;  // prefixes a request's url must be under
};
void add_insert_options(CLI::App& command, InsertArgs& args);
// The event to append; a configuration must be one the processor applies (core::apply); a
// request is checked as the processor will send it (broker::check_request), and its url must
// be under one of the allow_urls prefixes. Whether the causation event exists is for the store
// to say.
Result<events::NewEvent> to_new_event(const InsertArgs& args);

// The --allow-url prefixes (also API_BROKER_ALLOW_URLS, comma-separated), for insert and
// process alike.
void add_allow_url_option(CLI::App& command, std::vector<std::string>& prefixes);
Result<std::vector<broker::UrlPrefix>> to_url_prefixes(const std::vector<std::string>& texts);

// `target set NAME [flags]`: the flags given change `current` (the definition in force, or a
// new one), so a second `target set` keeps what it does not name.
struct TargetArgs {
  std::string name;
  std::optional<std::string> url, retry_on, on_timeout;
  std::vector<std::string> headers;  // given: they replace the target's headers
  std::optional<std::uint32_t> redirects_max, calls_max, breaker_failures;
  std::optional<double> rate, burst, breaker_ratio, breaker_window, breaker_pause;
};
void add_target_set_options(CLI::App& command, TargetArgs& args);
// The target event `target set` appends, checked as the processor folds it
// (broker::check_target).
Result<events::Target> to_target_event(const TargetArgs& args, events::Target current);

struct ConfigureArgs {
  events::Configuration configuration;       // -1: keep the value in force
  std::optional<std::string> external_uuid;  // nullopt: not given
};
void add_configure_options(CLI::App& command, ConfigureArgs& args);
// The configuration event, checked as the processor will apply it (core::apply).
Result<events::NewEvent> to_configuration_event(const ConfigureArgs& args);

struct ProcessArgs {
  std::string api_url = "http://localhost:8080";
  std::vector<std::string> allow_urls;
  std::string content_type_default = "application/octet-stream";
  std::string start_after;
  std::size_t response_bytes_stored_max = limits::response_bytes_stored_default;
  double lease_ttl = 3;
  double drain_timeout = 30;  // seconds; 0 = stop at once
  bool no_standby = false;
  std::string log_level = "info";
  std::size_t in_flight_max = limits::requests_in_flight_max;
  std::string ca_file, client_cert, client_key;  // https: "" = the system's trust, no cert
  core::TargetLimits target;                     // of the default target (--api-url)
  std::string on_timeout = "keep";               // keep | abandon
};
void add_process_options(CLI::App& command, ProcessArgs& args);
// The processor's options (log_level is the caller's: it makes the logger).
Result<broker::ProcessorOptions> to_processor_options(const ProcessArgs& args);

// `serve --process`: Errc::invalid_input when the API URL reaches serve's own listen address
// `listen` ("HOST:PORT" as --listen takes it), so that the processor would call the service
// itself (the default --api-url, http://localhost:8080, is serve's default --listen). Same
// port, and the same host, "localhost" counting as 127.0.0.1 and ::1, and a wildcard listen
// host (empty, 0.0.0.0, ::) as any loopback host. No name resolution: another name of this
// machine is not recognised. A listen port 0 (any free one) cannot be the URL's.
Result<void> check_not_own_listener(const http::Url& api, std::string_view listen);

}  // namespace api_broker::cli
