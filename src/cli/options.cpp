#include "options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "api_broker/broker/destination.hpp"
#include "api_broker/broker/targets.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/core/target_limits.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/events/utf8.hpp"
#include "api_broker/http/client_options.hpp"
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
  // Plain options under a help heading, not an option group: CLI11 2.3's option groups loop
  // forever on some unknown arguments (found by fuzz/cli_args.cpp).
  const std::string group = "Of a request only: what it sends, where";
  command
      .add_option("--method", args.method,
                  "GET, HEAD, POST (default), PUT, PATCH or DELETE (any case)")
      ->group(group);
  command
      .add_option("--url", args.url,
                  "Absolute http(s) URL, with a query if any; it must be under an --allow-url "
                  "prefix")
      ->group(group);
  command.add_option("--target", args.target, "A target defined by `target set`")->group(group);
  command.add_option("--path", args.path, "With --target: appended to its URL (/orders?id=1)")
      ->group(group);
  command
      .add_option("--header", args.headers,
                  "'Name: value', repeatable; a value env:VAR or file:PATH is a secret the "
                  "processor reads when it sends (the log keeps the reference)")
      ->allow_extra_args(false)
      ->group(group);
  command
      .add_option("--content-type", args.content_type,
                  "Content-Type of the body; default: the processor's --content-type-default")
      ->group(group);
  add_allow_url_option(command, args.allow_urls);
  command.get_option("--allow-url")->group(group);
}

void add_allow_url_option(CLI::App& command, std::vector<std::string>& prefixes) {
  command
      .add_option("--allow-url", prefixes,
                  "URL prefix a request's url may be under (scheme, host, port and whole path "
                  "segments), repeatable or comma-separated")
      ->envname("API_BROKER_ALLOW_URLS")
      ->delimiter(',')
      ->allow_extra_args(false);
}

Result<std::vector<broker::UrlPrefix>> to_url_prefixes(const std::vector<std::string>& texts) {
  std::vector<broker::UrlPrefix> prefixes;
  for (const std::string& text : texts) {
    if (text.empty()) continue;  // an empty API_BROKER_ALLOW_URLS item
    auto prefix = broker::parse_allow_url(text);
    if (!prefix) return fail(std::move(prefix).error());
    prefixes.push_back(std::move(*prefix));
  }
  return prefixes;
}

namespace {

Result<std::vector<events::HeaderField>> to_headers(const std::vector<std::string>& texts) {
  std::vector<events::HeaderField> headers;
  for (const std::string& text : texts) {
    auto header = broker::parse_header_argument(text);
    if (!header) return fail(std::move(header).error());
    headers.push_back(std::move(*header));
  }
  return headers;
}

bool has_request_fields(const InsertArgs& args) {
  return !args.method.empty() || !args.url.empty() || !args.target.empty() || !args.path.empty() ||
         !args.content_type.empty() || !args.headers.empty();
}

// The request's own fields: from the flags, checked, and its url under a prefix.
Result<events::Event> to_request(events::Request request, const InsertArgs& args) {
  if (has_request_fields(args)) {
    if (!request.method.empty() || !request.url.empty() || !request.target.empty() ||
        !request.path.empty() || !request.content_type.empty() || !request.headers.empty()) {
      return fail(Errc::invalid_input,
                  "give a request's fields in its JSON or as flags (--method, --url, ...), not "
                  "both");
    }
    request.method = args.method;
    request.url = args.url;
    request.target = args.target;
    request.path = args.path;
    request.content_type = args.content_type;
    auto headers = to_headers(args.headers);
    if (!headers) return fail(std::move(headers).error());
    request.headers = std::move(*headers);
  }
  auto checked = broker::check_request(std::move(request));
  if (!checked) return fail(std::move(checked).error());
  if (!checked->url.empty()) {
    auto prefixes = to_url_prefixes(args.allow_urls);
    if (!prefixes) return fail(std::move(prefixes).error());
    if (auto allowed = broker::check_allowed(*prefixes, *checked); !allowed) {
      return fail(std::move(allowed).error());
    }
  }
  return events::Event{std::move(*checked)};
}

// A request: its JSON payload, or the text of its body.
Result<events::Event> request_from_cli(const InsertArgs& args) {
  // Not UTF-8: event_from_cli's message names the byte.
  if (events::first_invalid_utf8(args.data)) return event_from_cli("request", args.data);
  // A JSON object with a "request" field is the request's JSON payload, with the same fields
  // as the flags; any other text is the body.
  const std::string_view data = args.data;
  if (!data.empty() && data.front() == '{' && data.find("\"request\"") != std::string_view::npos) {
    auto event = events::decode_input_payload("request", data);
    if (!event) return fail(std::move(event).error());
    return to_request(std::get<events::Request>(*event), args);
  }
  return to_request(events::Request{args.data}, args);
}

}  // namespace

Result<events::NewEvent> to_new_event(const InsertArgs& args) {
  if (args.class_tag != "request" && has_request_fields(args)) {
    return fail(Errc::invalid_input,
                "--method, --url, --target, --path, --header and --content-type are for a request");
  }
  auto event = args.class_tag == "request" ? request_from_cli(args)
                                           : event_from_cli(args.class_tag, args.data);
  if (!event) return fail(std::move(event).error());
  if (const auto* target = std::get_if<events::Target>(&*event)) {
    if (auto valid = broker::check_target(*target); !valid) return fail(std::move(valid).error());
  }
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
  command
      .add_option("--api-url", args.api_url,
                  "Base URL of the API, http:// or https://; a plain request (only a body) is "
                  "POSTed to <url>/api")
      ->envname("API_URL")
      ->capture_default_str();
  command.add_option("--ca-file", args.ca_file,
                     "https: PEM certificates of the CAs to trust instead of the system's trust "
                     "store (a private CA)");
  command.add_option("--client-cert", args.client_cert,
                     "https: PEM client certificate presented to the API (mutual TLS); needs "
                     "--client-key");
  command.add_option("--client-key", args.client_key, "https: PEM private key of --client-cert");
  add_allow_url_option(command, args.allow_urls);
  command
      .add_option("--content-type-default", args.content_type_default,
                  "Content-Type of a body whose request names none")
      ->envname("API_BROKER_CONTENT_TYPE_DEFAULT")
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
  command
      .add_option("--drain-timeout", args.drain_timeout,
                  "Seconds the calls in flight get to answer (and be recorded) after SIGTERM or "
                  "SIGINT, while no new attempt starts; 0 stops at once. A second signal stops "
                  "at once; calls still out are resumed by the next processor")
      ->check(decimal())
      ->capture_default_str();
  command.add_flag("--no-standby", args.no_standby,
                   "Exit (code 1) instead of waiting when another processor holds the lease, or "
                   "takes it over from this one, or when the store cannot be reached at the start");
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
  options.tls = http::TlsOptions{.ca_file = args.ca_file,
                                 .client_cert_file = args.client_cert,
                                 .client_key_file = args.client_key};
  // A bad file is an error now, not a failure of every call later.
  if (options.api.scheme == http::Scheme::https || options.tls != http::TlsOptions{}) {
    if (auto usable = http::check_tls_options(options.tls); !usable) {
      return fail(std::move(usable).error());
    }
  }
  auto prefixes = to_url_prefixes(args.allow_urls);
  if (!prefixes) return fail(std::move(prefixes).error());
  options.allowed = std::move(*prefixes);
  if (auto valid =
          broker::check_header({.name = "Content-Type", .value = args.content_type_default});
      !valid || args.content_type_default.empty()) {
    return fail(Errc::invalid_input,
                fmt::format("--content-type-default '{}' is not a header value",
                            events::printable(args.content_type_default)));
  }
  options.content_type_default = args.content_type_default;
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
  const double drain_max = to_seconds(broker::drain_timeout_max);
  if (!(args.drain_timeout >= 0 && args.drain_timeout <= drain_max)) {
    return fail(Errc::invalid_input,
                fmt::format("--drain-timeout must be between 0 and {} s", drain_max));
  }
  options.drain_timeout = std::chrono::milliseconds(static_cast<long>(args.drain_timeout * 1000));
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

namespace api_broker::cli {

void add_target_set_options(CLI::App& command, TargetArgs& args) {
  command.add_option("NAME", args.name, "Target name: 1 to 64 of A-Z a-z 0-9 . _ -")->required();
  command.add_option("--url", args.url,
                     "Base URL (http or https); a request's --path is appended to it");
  command
      .add_option("--header", args.headers,
                  "'Name: value' sent with every call, repeatable (given, the list replaces the "
                  "target's); env:VAR or file:PATH is a secret read when sending")
      ->allow_extra_args(false);
  command
      .add_option("--redirects-max", args.redirects_max,
                  "Redirect hops followed; 0 (default): a 3xx fails the attempt")
      ->check(decimal());
  command.add_option("--retry-on", args.retry_on,
                     "Failures retried: status codes, classes (5xx) and 0 (no answer), "
                     "comma-separated, or none; default 0,408,429,5xx");
  command.add_option("--calls-max", args.calls_max, "Calls at once; 0 = no bound")
      ->check(decimal());
  command.add_option("--rate", args.rate, "Calls per second; 0 = no bound")->check(decimal());
  command.add_option("--burst", args.burst, "Token bucket size; 0 = max(1, rate)")
      ->check(decimal());
  command
      .add_option("--breaker-failures", args.breaker_failures,
                  "Retryable failures in a row that open the breaker; 0 = off")
      ->check(decimal());
  command
      .add_option("--breaker-ratio", args.breaker_ratio,
                  "Failure ratio (0..1) over --breaker-window that opens it; 0 = off")
      ->check(decimal());
  command.add_option("--breaker-window", args.breaker_window, "Seconds")->check(decimal());
  command
      .add_option("--breaker-pause", args.breaker_pause,
                  "Seconds open before one probe; 0 = the default")
      ->check(decimal());
  command.add_option("--on-timeout", args.on_timeout,
                     "keep (a late answer counts) or abandon (the call is closed)");
}

namespace {

// A host as a listen address or a URL names it, without brackets, lower case.
std::string plain_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

Result<void> check_not_own_listener(const http::Url& api, std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) return {};  // serve refuses it itself
  std::uint16_t port = 0;
  const auto port_text = listen.substr(colon + 1);
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port != api.port) {
    return {};
  }
  const std::string listen_host = plain_host(listen.substr(0, colon));
  const std::string api_host = plain_host(api.host);
  const bool wildcard = listen_host.empty() || listen_host == "0.0.0.0" || listen_host == "::";
  const bool same = wildcard ? is_loopback(api_host) || api_host == "0.0.0.0" || api_host == "::"
                             : api_host == listen_host ||
                                   (api_host == "localhost" &&
                                    (listen_host == "127.0.0.1" || listen_host == "::1")) ||
                                   (listen_host == "localhost" && (api_host == "127.0.0.1"));
  if (!same) return {};
  return fail(Errc::invalid_input,
              fmt::format("--api-url reaches serve's own --listen {}: the processor would call "
                          "this service itself; give the API's URL with --api-url (or API_URL)",
                          events::printable(listen)));
}

Result<events::Target> to_target_event(const TargetArgs& args, events::Target current) {
  events::Target target = current.removed ? events::Target{} : std::move(current);
  target.name = args.name;
  target.removed = false;
  if (args.url) target.url = *args.url;
  if (!args.headers.empty()) {
    auto headers = to_headers(args.headers);
    if (!headers) return fail(std::move(headers).error());
    target.headers = std::move(*headers);
  }
  if (args.redirects_max) target.redirects_max = *args.redirects_max;
  if (args.retry_on) target.retry_on = *args.retry_on;
  if (args.calls_max) target.calls_max = *args.calls_max;
  if (args.rate) target.rate = *args.rate;
  if (args.burst) target.burst = *args.burst;
  if (args.breaker_failures) target.breaker_failures = *args.breaker_failures;
  if (args.breaker_ratio) target.breaker_ratio = *args.breaker_ratio;
  if (args.breaker_window) target.breaker_window = *args.breaker_window;
  if (args.breaker_pause) target.breaker_pause = *args.breaker_pause;
  if (args.on_timeout) target.on_timeout = *args.on_timeout;
  auto checked = broker::check_target(target);
  if (!checked) return fail(std::move(checked).error());
  return target;
}

}  // namespace api_broker::cli
