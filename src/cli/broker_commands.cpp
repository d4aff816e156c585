// The broker commands: configure, process, brittle-api serve.

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "api_broker/broker/processor.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "context.hpp"

namespace api_broker::cli {
namespace {

void add_configure(CLI::App& app, Context& context) {
  auto config = std::make_shared<events::Configuration>();
  auto external_uuid = std::make_shared<std::string>();
  const core::Policy defaults;
  auto* command = app.add_subcommand(
      "configure",
      fmt::format("Append a configuration event: the retry policy for requests that arrive after "
                  "it. Each value left out (or -1) keeps the one in force. Defaults before any "
                  "configuration: retries {}, timeout {}s, backoff-initial {}s, "
                  "backoff-multiplier {}, backoff-max {}s, backoff-jitter {}, deadline {}s (none).",
                  defaults.retries, to_seconds(defaults.attempt_timeout),
                  to_seconds(defaults.backoff_initial), defaults.backoff_multiplier,
                  to_seconds(defaults.backoff_max), defaults.backoff_jitter,
                  to_seconds(defaults.deadline)));
  command->add_option("--retries", config->retries, "Attempts after the first one");
  command->add_option("--timeout", config->timeout, "Seconds per attempt; 0 = none");
  command->add_option("--backoff-initial", config->backoff_initial,
                      "Seconds before the first retry");
  command->add_option("--backoff-multiplier", config->backoff_multiplier,
                      "Growth of the delay per retry (>= 1)");
  command->add_option("--backoff-max", config->backoff_max, "Longest delay between attempts, s");
  command->add_option("--backoff-jitter", config->backoff_jitter,
                      "Fraction (0..1) of each delay taken off at random");
  command->add_option("--deadline", config->deadline,
                      "Seconds from a request to its last attempt's end; 0 = none");
  command->add_option("--external-uuid", *external_uuid, "Client-chosen UUID, unique");
  command->callback([&context, config, external_uuid] {
    context.run = [&context, config, external_uuid]() -> int {
      if (auto valid = core::apply(core::Policy{}, *config); !valid) return report(valid.error());
      events::NewEvent event{.event = *config};
      if (!external_uuid->empty()) {
        auto uuid = events::parse_uuid(*external_uuid);
        if (!uuid) return report(uuid.error());
        event.external_uuid = *uuid;
      }
      auto store = context.open_store();
      if (!store) return report(store.error());
      auto id = (*store)->append(event);
      if (!id) return report(id.error());
      fmt::print("{}\n", events::to_int(*id));
      return exit_ok;
    };
  });
}

void add_process(CLI::App& app, Context& context) {
  struct Args {
    std::string api_url = "http://localhost:8080";
    std::string start_after;
    std::size_t response_bytes_max = 64 * 1024;
    double lease_ttl = 3;
    bool no_standby = false;
    std::string log_level = "info";
    std::size_t in_flight_max = limits::requests_in_flight_max;
  };
  auto args = std::make_shared<Args>();
  auto* command = app.add_subcommand(
      "process",
      "Run the processor: follow the log and call the API for every request under its policy, "
      "recording every attempt, answer, failure, timeout and the outcome. Resumes from its "
      "checkpoint after a restart; a second processor on the same store waits as standby.");
  command->add_option("--api-url", args->api_url, "Base URL of the API; calls POST <url>/api")
      ->envname("API_URL")
      ->capture_default_str();
  command->add_option("--start-after", args->start_after,
                      "Ignore the checkpoint and start after this event id");
  command
      ->add_option("--response-bytes-max", args->response_bytes_max,
                   "Bytes of a response body stored in the event (longer ones are cut and "
                   "marked truncated)")
      ->capture_default_str();
  command
      ->add_option("--lease-ttl", args->lease_ttl,
                   "Seconds after which a dead processor's lease can be taken over")
      ->capture_default_str();
  command
      ->add_option("--in-flight-max", args->in_flight_max,
                   "Requests in flight at most; newer ones wait their turn")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  command->add_flag("--no-standby", args->no_standby,
                    "Exit (code 1) instead of waiting when another processor holds the lease");
  command->add_option("--log-level", args->log_level, "debug|info|warn|error")
      ->capture_default_str();
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      broker::ProcessorOptions options;
      auto url = http::parse_url(args->api_url);
      if (!url) return report(url.error());
      options.api = *url;
      if (!args->start_after.empty()) {
        auto id = events::parse_event_id(args->start_after);
        if (!id) return report(id.error());
        options.start_after = *id;
      }
      if (args->response_bytes_max == 0 ||
          args->response_bytes_max > limits::response_read_bytes_max) {
        return report(
            Error{Errc::invalid_input, fmt::format("--response-bytes-max must be between 1 and {}",
                                                   limits::response_read_bytes_max)});
      }
      options.response_bytes_max = args->response_bytes_max;
      if (!(args->lease_ttl >= 0.3 && args->lease_ttl <= 3600)) {
        return report(Error{Errc::invalid_input, "--lease-ttl must be between 0.3 and 3600 s"});
      }
      options.lease_ttl = std::chrono::milliseconds(static_cast<long>(args->lease_ttl * 1000));
      options.standby = !args->no_standby;
      options.requests_in_flight_max = args->in_flight_max;
      auto level = store::parse_log_level(args->log_level);
      if (!level) return report(level.error());
      auto log = make_logger("processor", *level);
      store::StopSignal stop;
      store::StopOnSignals on_signals(stop);
      auto done = broker::run_processor(
          [&] { return context.open_store(); }, options, stop, log,
          [&](const broker::ProcessorStats& s) {
            log->info(
                "requests {} · attempts {} · succeeded {} · failed {} · in flight {} · waiting {}",
                s.requests_seen, s.attempts_started, s.succeeded, s.failed, s.active, s.parked);
          });
      if (!done) return report(done.error());
      return exit_ok;
    };
  });
}

void add_brittle_api(CLI::App& app, Context& context) {
  struct Args {
    std::string address;
    brittle_api::Options options;
    std::uint64_t seed = 0;
  };
  auto args = std::make_shared<Args>();
  auto* group = app.add_subcommand("brittle-api", "The simulated unreliable API");
  group->require_subcommand(1);
  auto* serve = group->add_subcommand(
      "serve",
      "Serve GET|HEAD /up and POST /api (answers the body reversed after a random latency; "
      "fails with 503 or drops the connection at the given rates), GET /stats, GET /stats/keys");
  serve->add_option("ADDR", args->address, "HOST:PORT to listen on, e.g. 127.0.0.1:8080")
      ->required();
  serve->add_option("--api-min-latency", args->options.min_latency, "Seconds")
      ->capture_default_str();
  serve->add_option("--api-max-latency", args->options.max_latency, "Seconds")
      ->capture_default_str();
  serve
      ->add_option("--api-failure-rate", args->options.failure_rate,
                   "Share of calls that fail (0..1)")
      ->capture_default_str();
  serve
      ->add_option("--api-silent-failure-rate", args->options.silent_failure_rate,
                   "Share of failures that drop the connection without an answer (0..1)")
      ->capture_default_str();
  auto* seed = serve->add_option("--seed", args->seed, "Seed for reproducible runs");
  serve->add_option("--calls-log", args->options.calls_log_path,
                    "Append one JSON line per call to this file");
  serve->callback([&context, args, seed] {
    context.run = [args, seed]() -> int {
      if (seed->count() > 0) args->options.seed = args->seed;
      store::StopSignal stop;
      store::StopOnSignals on_signals(stop);
      auto done = brittle_api::serve(args->address, args->options,
                                     [&stop] { return stop.stop_requested(); });
      if (!done) return report(done.error());
      return exit_ok;
    };
  });
}

}  // namespace

void add_broker_commands(CLI::App& app, Context& context) {
  add_configure(app, context);
  add_process(app, context);
  add_brittle_api(app, context);
}

}  // namespace api_broker::cli
