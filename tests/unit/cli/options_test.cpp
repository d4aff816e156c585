// The command line's own checks of option values (src/cli/options.*): what each text means
// once parsed, and the one-line error a bad one gets. No store and no network.
#include "options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "api_broker/http/url.hpp"

namespace api_broker::cli {
namespace {

using ::testing::HasSubstr;

// Parses `args` (without the program name) into a command declared by `declare`.
template <class Args, class Declare>
void parse(Args& args, Declare declare, std::vector<std::string> words) {
  CLI::App app{"test"};
  declare(app, args);
  std::reverse(words.begin(), words.end());  // CLI11 takes them last first
  app.parse(words);
}

TEST(OptionalEventId, EmptyIsNoneAndDigitsAreAnId) {
  EXPECT_EQ(*optional_event_id(""), events::no_event);
  EXPECT_EQ(*optional_event_id("42"), events::EventId{42});
}

TEST(OptionalEventId, RefusesWhatIsNotDecimal) {
  for (const char* text : {"-1", "0x10", "4 2", "18446744073709551616", "abc"}) {
    const auto id = optional_event_id(text);
    ASSERT_FALSE(id) << text;
    EXPECT_EQ(id.error().code, Errc::invalid_input) << text;
  }
}

TEST(OptionalUuid, NotGivenIsNoneButEmptyIsRefused) {
  EXPECT_FALSE(optional_uuid(std::nullopt)->has_value());
  const auto empty = optional_uuid(std::string{});
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message, HasSubstr("--external-uuid is empty"));
}

TEST(OptionalUuid, TakesAUuidAndRefusesTheNilOneAndMalformedOnes) {
  EXPECT_TRUE(optional_uuid(std::string{"0b7e1f9c-3c1e-4a4f-9a51-0cf2d9e5b1a7"})->has_value());
  for (const char* text : {"00000000-0000-0000-0000-000000000000", "not-a-uuid",
                           "0b7e1f9c-3c1e-4a4f-9a51-0cf2d9e5b1a"}) {
    const auto uuid = optional_uuid(std::string{text});
    ASSERT_FALSE(uuid) << text;
    EXPECT_EQ(uuid.error().code, Errc::invalid_input) << text;
  }
}

TEST(EventFromCli, TextClassesAndThePrototypesAliasesTakeTheTextAsItIs) {
  EXPECT_EQ(*event_from_cli("simple", "hi"), events::Event{events::Simple{"hi"}});
  EXPECT_EQ(*event_from_cli("request", "{\"x\":1}"), events::Event{events::Request{"{\"x\":1}"}});
  EXPECT_EQ(*event_from_cli("response", "ok"),
            events::Event{events::ApiResponse{.response = "ok"}});
  EXPECT_EQ(*event_from_cli("failure", "down"),
            events::Event{events::ApiFailure{.failure = "down"}});
}

TEST(EventFromCli, RefusesBytesThatAreNotUtf8AndSaysWhere) {
  const auto event = event_from_cli("simple", std::string{"ab\xff"});
  ASSERT_FALSE(event);
  EXPECT_THAT(event.error().message, HasSubstr("byte 2 (0xff)"));
}

TEST(EventFromCli, AnUnknownClassListsTheKnownOnes) {
  const auto event = event_from_cli("requets", "x");
  ASSERT_FALSE(event);
  EXPECT_THAT(event.error().message, HasSubstr("unknown event class 'requets'"));
  EXPECT_THAT(event.error().message, HasSubstr("api-request"));
  EXPECT_EQ(event.error().message.find('\n'), std::string::npos);  // one line
}

TEST(ToNewEvent, GivenAllOptionsBuildsTheEvent) {
  InsertArgs args;
  parse(args, add_insert_options,
        {"request", "payload", "--causation", "7", "--external-uuid",
         "0b7e1f9c-3c1e-4a4f-9a51-0cf2d9e5b1a7"});
  const auto event = to_new_event(args);
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->event, events::Event{events::Request{"payload"}});
  EXPECT_EQ(event->causation_id, events::EventId{7});
  EXPECT_TRUE(event->external_uuid.has_value());
}

TEST(ToNewEvent, RefusesAConfigurationTheProcessorWouldIgnore) {
  InsertArgs args{.class_tag = "configuration", .data = R"({"backoff_multiplier": 0.5})"};
  const auto event = to_new_event(args);
  ASSERT_FALSE(event);
  EXPECT_EQ(event.error().code, Errc::invalid_input);
}

TEST(ToConfigurationEvent, KeepsWhatIsNotGivenAndChecksWhatIs) {
  ConfigureArgs args;
  parse(args, add_configure_options, {"--retries", "3", "--timeout", "2.5"});
  const auto event = to_configuration_event(args);
  ASSERT_TRUE(event) << event.error().message;
  const auto& configuration = std::get<events::Configuration>(event->event);
  EXPECT_EQ(configuration.retries, 3);
  EXPECT_EQ(configuration.timeout, 2.5);
  EXPECT_EQ(configuration.deadline, -1);  // kept as in force

  ConfigureArgs jitter;
  parse(jitter, add_configure_options, {"--backoff-jitter", "1.5"});
  EXPECT_FALSE(to_configuration_event(jitter));
}

TEST(ConfigureOptions, NumbersAreDecimalOnly) {
  ConfigureArgs args;
  EXPECT_THROW(parse(args, add_configure_options, {"--retries", "0x10"}), CLI::ValidationError);
}

TEST(ToProcessorOptions, TheDefaultsMakeAStandbyProcessorOnLocalhost) {
  const auto options = to_processor_options(ProcessArgs{});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->api.host, "localhost");
  EXPECT_TRUE(options->standby);
  EXPECT_EQ(options->lease_ttl, std::chrono::milliseconds(3000));
  EXPECT_FALSE(options->start_after.has_value());
}

TEST(ToProcessorOptions, TakesEveryOptionGiven) {
  ProcessArgs args;
  parse(args, add_process_options,
        {"--api-url", "http://127.0.0.1:9000", "--start-after", "12", "--lease-ttl", "0.5",
         "--in-flight-max", "8", "--no-standby"});
  const auto options = to_processor_options(args);
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->api.port, 9000);
  EXPECT_EQ(options->start_after, events::EventId{12});
  EXPECT_EQ(options->lease_ttl, std::chrono::milliseconds(500));
  EXPECT_EQ(options->requests_in_flight_max, 8u);
  EXPECT_FALSE(options->standby);
}

TEST(ToProcessorOptions, RefusesValuesOutOfRangeWithOneLine) {
  const auto refused = [](ProcessArgs args) {
    const auto options = to_processor_options(args);
    EXPECT_FALSE(options);
    if (options) return std::string{};
    EXPECT_EQ(options.error().code, Errc::invalid_input);
    EXPECT_EQ(options.error().message.find('\n'), std::string::npos);
    return options.error().message;
  };
  EXPECT_THAT(refused({.api_url = "ftp://x"}), HasSubstr("ftp"));
  EXPECT_THAT(refused({.start_after = "x"}), HasSubstr("x"));
  EXPECT_THAT(refused({.lease_ttl = 0.1}), HasSubstr("--lease-ttl"));
  EXPECT_THAT(refused({.lease_ttl = std::numeric_limits<double>::quiet_NaN()}),
              HasSubstr("--lease-ttl"));
  EXPECT_THAT(refused({.in_flight_max = 0}), HasSubstr("--in-flight-max"));
}

TEST(ToProcessorOptions, TakesTheDefaultTargetsLimits) {
  ProcessArgs args;
  parse(args, add_process_options,
        {"--calls-max", "16", "--rate", "50", "--burst", "5", "--breaker-failures", "3",
         "--breaker-ratio", "0.5", "--breaker-window", "30", "--breaker-pause", "2", "--on-timeout",
         "abandon"});
  const auto options = to_processor_options(args);
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->default_target, (core::TargetLimits{.calls_max = 16,
                                                         .rate = 50,
                                                         .burst = 5,
                                                         .breaker_failures = 3,
                                                         .breaker_ratio = 0.5,
                                                         .breaker_window = 30,
                                                         .breaker_pause = 2,
                                                         .abandon_on_timeout = true}));
  const auto defaults = to_processor_options(ProcessArgs{});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->default_target, core::TargetLimits{});  // every limit off, keep
}

TEST(ToProcessorOptions, RefusesTargetLimitsOutOfRangeWithOneLine) {
  const auto refused = [](ProcessArgs args) {
    const auto options = to_processor_options(args);
    EXPECT_FALSE(options);
    if (options) return std::string{};
    EXPECT_EQ(options.error().message.find('\n'), std::string::npos);
    return options.error().message;
  };
  EXPECT_THAT(refused({.on_timeout = "drop"}), HasSubstr("--on-timeout"));
  EXPECT_THAT(refused({.target = {.rate = -1}}), HasSubstr("--rate"));
  EXPECT_THAT(refused({.target = {.rate = 0.0001}}), HasSubstr("--rate"));
  EXPECT_THAT(refused({.target = {.burst = std::numeric_limits<double>::quiet_NaN()}}),
              HasSubstr("--burst"));
  EXPECT_THAT(refused({.target = {.breaker_ratio = 1.5}}), HasSubstr("--breaker-ratio"));
  EXPECT_THAT(refused({.target = {.breaker_pause = -2}}), HasSubstr("--breaker-pause"));
}

TEST(ProcessOptions, TheInFlightBoundIsCheckedWhileParsing) {
  ProcessArgs args;
  EXPECT_THROW(parse(args, add_process_options, {"--in-flight-max", "2000000"}),
               CLI::ValidationError);
}

// --- requests that say what to send, and targets (issue 11) ---------------------------------

TEST(InsertOptions, RequestFlagsMakeARequestAndEachHeaderIsOneValue) {
  InsertArgs args;
  parse(args, add_insert_options,
        {"request", "{}", "--method", "put", "--url", "http://a.test/v1/x?y=1", "--header",
         "X-A: 1", "--header", "Authorization: env:TOKEN", "--content-type", "application/json",
         "--allow-url", "http://b.test,http://a.test/v1"});
  auto event = to_new_event(args);
  ASSERT_TRUE(event.has_value()) << event.error().message;
  const auto& request = std::get<events::Request>(event->event);
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.url, "http://a.test/v1/x?y=1");
  EXPECT_EQ(request.headers,
            (std::vector<events::HeaderField>{{.name = "X-A", .value = "1"},
                                              {.name = "Authorization", .value = "env:TOKEN"}}));
  EXPECT_EQ(request.content_type, "application/json");
  EXPECT_EQ(request.request, "{}");
}

TEST(InsertOptions, ARequestsJsonPayloadIsCheckedLikeItsFlags) {
  InsertArgs args{.class_tag = "request",
                  .data = R"({"request":"","method":"get","url":"http://a.test/x"})"};
  EXPECT_FALSE(to_new_event(args).has_value()) << "no --allow-url covers it";
  args.allow_urls = {"http://a.test"};
  auto event = to_new_event(args);
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(std::get<events::Request>(event->event).method, "GET");
  args.method = "GET";
  EXPECT_THAT(to_new_event(args).error().message, HasSubstr("not both"));
  EXPECT_EQ(std::get<events::Request>(
                to_new_event({.class_tag = "request", .data = R"({"x":1})"})->event),
            events::Request{R"({"x":1})"})
      << "JSON without a request field is a body";
}

TEST(TargetOptions, ASecondSetKeepsWhatItDoesNotName) {
  TargetArgs first;
  parse(first, add_target_set_options,
        {"p", "--url", "https://p.test/v2", "--header", "Authorization: env:T", "--retry-on", "5xx",
         "--calls-max", "4"});
  auto defined = to_target_event(first, {});
  ASSERT_TRUE(defined.has_value()) << defined.error().message;
  TargetArgs second;
  parse(second, add_target_set_options, {"p", "--rate", "2.5", "--on-timeout", "abandon"});
  auto changed = to_target_event(second, *defined);
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  EXPECT_EQ(changed->url, "https://p.test/v2");
  EXPECT_EQ(changed->headers, defined->headers);
  EXPECT_EQ(changed->retry_on, "5xx");
  EXPECT_EQ(changed->calls_max, 4u);
  EXPECT_EQ(changed->rate, 2.5);
  EXPECT_EQ(changed->on_timeout, "abandon");
  TargetArgs bad;
  parse(bad, add_target_set_options, {"p", "--breaker-ratio", "2"});
  EXPECT_THAT(to_target_event(bad, *defined).error().message, HasSubstr("breaker_ratio"));
  EXPECT_THAT(to_target_event(second, {}).error().message, HasSubstr("url is required"));
}

TEST(ProcessOptions, AllowedUrlsAndTheDefaultContentType) {
  ProcessArgs args;
  parse(args, add_process_options,
        {"--allow-url", "http://a.test/v1", "--allow-url", "https://b.test",
         "--content-type-default", "text/plain"});
  auto options = to_processor_options(args);
  ASSERT_TRUE(options.has_value()) << options.error().message;
  ASSERT_EQ(options->allowed.size(), 2u);
  EXPECT_TRUE(options->allowed[1].tls());
  EXPECT_EQ(options->content_type_default, "text/plain");
  args.allow_urls = {"ftp://x"};
  EXPECT_THAT(to_processor_options(args).error().message, HasSubstr("--allow-url"));
  args.allow_urls = {};
  args.content_type_default = "a\nb";
  EXPECT_THAT(to_processor_options(args).error().message, HasSubstr("--content-type-default"));
}

// `serve --process` must not send the processor's calls to the service itself.
TEST(CheckNotOwnListener, TheDefaultApiUrlIsServesOwnDefaultListenAddress) {
  const ProcessArgs defaults;
  const auto api = http::parse_url(defaults.api_url).value();
  const auto refused = check_not_own_listener(api, "127.0.0.1:8080");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_input);
  EXPECT_THAT(refused.error().message, HasSubstr("--listen 127.0.0.1:8080"));
  EXPECT_EQ(refused.error().message.find('\n'), std::string::npos);
}

TEST(CheckNotOwnListener, RefusesTheSameHostAndPortUnderEveryLoopbackSpelling) {
  for (const auto& [url, listen] : std::vector<std::pair<std::string, std::string>>{
           {"http://localhost:8080", "localhost:8080"},
           {"http://127.0.0.1:8080/base", "127.0.0.1:8080"},
           {"https://LOCALHOST:8443", "127.0.0.1:8443"},
           {"http://[::1]:9000", "[::1]:9000"},
           {"http://localhost:9000", "[::1]:9000"},
           {"http://127.0.0.1:9000", ":9000"},
           {"http://localhost:9000", "0.0.0.0:9000"},
           {"http://[::1]:9000", "[::]:9000"},
           {"http://10.1.2.3:80", "10.1.2.3:80"},
           {"http://localhost", "127.0.0.1:80"}}) {
    EXPECT_FALSE(check_not_own_listener(http::parse_url(url).value(), listen))
        << url << " " << listen;
  }
}

TEST(CheckNotOwnListener, AcceptsAnotherPortOrHostAndAnyFreePort) {
  for (const auto& [url, listen] : std::vector<std::pair<std::string, std::string>>{
           {"http://localhost:8080", "127.0.0.1:9090"},
           {"http://localhost:8080", "127.0.0.1:0"},
           {"http://127.0.0.2:8080", "127.0.0.1:8080"},
           {"http://api.example:8080", "127.0.0.1:8080"},
           {"http://10.1.2.3:8080", "10.1.2.4:8080"},
           {"http://localhost:8080", "10.1.2.3:8080"}}) {
    EXPECT_TRUE(check_not_own_listener(http::parse_url(url).value(), listen))
        << url << " " << listen;
  }
}

}  // namespace
}  // namespace api_broker::cli
