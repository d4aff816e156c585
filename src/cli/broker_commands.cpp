// The broker commands: configure, process, brittle-api serve.

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "api_broker/broker/processor.hpp"
#include "api_broker/core/policy.hpp"
#include "api_broker/events/codec.hpp"
#include "context.hpp"
#include "options.hpp"

namespace api_broker::cli {
namespace {

void add_configure(CLI::App& app, Context& context) {
  auto args = std::make_shared<ConfigureArgs>();
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
  add_configure_options(*command, *args);
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      auto event = to_configuration_event(*args);
      if (!event) return report(event.error());
      auto store = context.open_store(store::Access::write);
      if (!store) return report(store.error());
      auto id = (*store)->append(*event);
      if (!id) return report(id.error());
      fmt::print("{}\n", events::to_int(*id));
      return exit_ok;
    };
  });
}

void add_process(CLI::App& app, Context& context) {
  auto args = std::make_shared<ProcessArgs>();
  auto* command = app.add_subcommand(
      "process",
      "Run the processor: follow the log and call the API for every request under its policy, "
      "recording every attempt, answer, failure, timeout and the outcome. Resumes from its "
      "checkpoint after a restart; a second processor on the same store waits as standby.");
  add_process_options(*command, *args);
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      auto options = to_processor_options(*args);
      if (!options) return report(options.error());
      auto level = store::parse_log_level(args->log_level);
      if (!level) return report(level.error());
      auto log = make_logger("processor", *level);
      StopSignal stop;
      StopOnSignals on_signals(stop);
      auto done = broker::run_processor(
          [&] { return context.open_store(store::Access::write); }, *options, stop, log,
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
      "Serve GET|HEAD /up, GET /stats, GET /stats/keys, /redirect... (302 to /api...), and "
      "any other method and path as a call of the API (POST /api, GET /orders?id=1, ...): it "
      "answers the body reversed after a random latency, or fails with 503 or drops the "
      "connection at the given rates");
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
  serve->add_flag("--api-reject-stale-epochs", args->options.reject_stale_epochs,
                  "Answer 409 to a call whose Api-Broker-Lease-Epoch is below one seen before "
                  "(a processor that lost its lease: fencing tokens, as a partner may check them)");
  auto* seed = serve->add_option("--seed", args->seed, "Seed for reproducible runs");
  serve->add_option("--calls-log", args->options.calls_log_path,
                    "Append one JSON line per call to this file: its outcome, method, target, "
                    "headers and body");
  serve->add_option("--tls-cert", args->options.tls_cert_file,
                    "Serve https with this PEM certificate (chain); needs --tls-key");
  serve->add_option("--tls-key", args->options.tls_key_file, "PEM private key of --tls-cert");
  serve->add_option("--tls-client-ca", args->options.tls_client_ca_file,
                    "Mutual TLS: require a client certificate signed by a CA of this PEM file");
  serve->callback([&context, args, seed] {
    context.run = [args, seed]() -> int {
      if (seed->count() > 0) args->options.seed = args->seed;
      StopSignal stop;
      StopOnSignals on_signals(stop);
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
