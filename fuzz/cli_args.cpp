// The command line of insert, configure, process, list and watch-requests, as CLI11 parses it
// with the real option definitions (src/cli/options.cpp): the input is a command and its
// arguments, one per line. Nothing crashes or throws past CLI11's ParseError; what the
// checks accept is in range and round-trips:
// - insert: the event's payload decodes back to it, a UUID or id prints back as given, and a
//   JSON DATA is stored as given (the decoded event encodes back to the same JSON value);
// - configure: the policy applies, and the policy it gives converts back to itself;
// - process: the URL prints back to itself, the caps and the lease are within their bounds.

#include <fuzzer/FuzzedDataProvider.h>

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api_broker/assert.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/http/url.hpp"
#include "options.hpp"

using namespace api_broker;

namespace {

// Lines of `text`; CLI11 wants them last first.
std::vector<std::string> arguments(const std::string& text) {
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start <= text.size() && args.size() < 64) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return {args.rbegin(), args.rend()};
}

void check_insert(const cli::InsertArgs& args) {
  auto event = cli::to_new_event(args);
  if (!event) {
    API_BROKER_ASSERT(event.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(event.error().message.find('\n') == std::string::npos);
    return;
  }
  const std::string tag(events::class_name(event->event));
  auto decoded = events::decode_payload(tag, events::encode_payload(event->event));
  API_BROKER_ASSERT(decoded.has_value());
  API_BROKER_ASSERT(events::encode_payload(*decoded) == events::encode_payload(event->event));
  if (!args.external_uuid) {
    API_BROKER_ASSERT(!event->external_uuid.has_value());
  } else {
    API_BROKER_ASSERT(*events::parse_uuid(events::to_string(*event->external_uuid)) ==
                      *event->external_uuid);
  }
  if (args.causation.empty()) API_BROKER_ASSERT(event->causation_id == events::no_event);
}

void check_configure(const cli::ConfigureArgs& args) {
  auto event = cli::to_configuration_event(args);
  if (!event) {
    API_BROKER_ASSERT(event.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(event.error().message.find('\n') == std::string::npos);
    return;
  }
  const auto& configuration = std::get<events::Configuration>(event->event);
  auto policy = core::apply(core::Policy{}, configuration);
  API_BROKER_ASSERT(policy.has_value());
  auto again = core::apply(core::Policy{}, core::to_configuration(*policy));
  API_BROKER_ASSERT(again.has_value());
  API_BROKER_ASSERT(*again == *policy);
  // What is stored is what the processor reads back.
  auto decoded = events::decode_payload("configuration", events::encode_payload(event->event));
  API_BROKER_ASSERT(decoded.has_value());
  API_BROKER_ASSERT(*core::apply(core::Policy{}, std::get<events::Configuration>(*decoded)) ==
                    *policy);
}

void check_process(const cli::ProcessArgs& args) {
  auto options = cli::to_processor_options(args);
  if (!options) {
    API_BROKER_ASSERT(options.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(options.error().message.find('\n') == std::string::npos);
    return;
  }
  API_BROKER_ASSERT(*http::parse_url(http::to_string(options->api)) == options->api);
  API_BROKER_ASSERT(options->response_bytes_stored_max >= 1);
  API_BROKER_ASSERT(options->response_bytes_stored_max <= limits::response_bytes_stored_max);
  API_BROKER_ASSERT(options->lease_ttl >= std::chrono::milliseconds(299));
  API_BROKER_ASSERT(options->lease_ttl <= std::chrono::hours(1));
  API_BROKER_ASSERT(options->requests_in_flight_max >= 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const int command = in.ConsumeIntegralInRange(0, 3);
  std::vector<std::string> args = arguments(in.ConsumeRemainingBytesAsString());

  CLI::App app{"fuzz"};
  cli::InsertArgs insert;
  cli::ConfigureArgs configure;
  cli::ProcessArgs process;
  std::string start_after;
  switch (command) {
    case 0:
      cli::add_insert_options(app, insert);
      break;
    case 1:
      cli::add_configure_options(app, configure);
      break;
    case 2:
      cli::add_process_options(app, process);
      break;
    default:
      app.add_option("--start-after", start_after);
      break;
  }
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return 0;  // main() prints it as one line and exits 2
  }
  switch (command) {
    case 0:
      check_insert(insert);
      break;
    case 1:
      check_configure(configure);
      break;
    case 2:
      check_process(process);
      break;
    default:
      if (auto id = cli::optional_event_id(start_after); id && !start_after.empty()) {
        API_BROKER_ASSERT(*events::parse_event_id(std::to_string(events::to_int(*id))) == *id);
      }
      break;
  }
  return 0;
}
