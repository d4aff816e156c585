// `api-broker serve`: the HTTP service (docs/API.md), and with --process the processor in the
// same process, with the options of `process`.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api_broker/service/service.hpp"
#include "api_broker/store/store_wait.hpp"
#include "context.hpp"
#include "options.hpp"

namespace api_broker::cli {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> tokens, read_tokens;
  std::string token_file, read_token_file;
  std::string tls_cert, tls_key;
  bool process = false;
  ProcessArgs processor;
};

Result<service::ServiceOptions> to_service_options(const ServeArgs& args) {
  service::ServiceOptions options;
  options.listen = args.listen;
  for (const auto& token : args.tokens) {
    if (!token.empty()) options.tokens.push_back(token);
  }
  for (const auto& token : args.read_tokens) {
    if (!token.empty()) options.read_tokens.push_back(token);
  }
  options.token_file = args.token_file;
  options.read_token_file = args.read_token_file;
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    return fail(Errc::invalid_input, "--tls-cert and --tls-key go together");
  }
  options.tls_cert_file = args.tls_cert;
  options.tls_key_file = args.tls_key;
  auto allowed = to_url_prefixes(args.processor.allow_urls);
  if (!allowed) return fail(std::move(allowed).error());
  options.allowed = std::move(*allowed);
  if (args.process) {
    auto processor = to_processor_options(args.processor);
    if (!processor) return fail(std::move(processor).error());
    if (auto not_self = check_not_own_listener(processor->api, args.listen); !not_self) {
      return fail(std::move(not_self).error());
    }
    options.process = std::move(*processor);
  }
  return options;
}

}  // namespace

void add_serve_command(CLI::App& app, Context& context) {
  auto args = std::make_shared<ServeArgs>();
  auto* command = app.add_subcommand(
      "serve",
      "Serve the HTTP API (docs/API.md): submit requests, read their state, follow the log, "
      "cancel and retry; /healthz and /readyz. With --process, also run the processor in this "
      "process (the options of `process` apply), so one command is a whole broker. Listens on "
      "loopback unless told otherwise, and only there without an API token.");
  command->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free one)")
      ->capture_default_str();
  const std::string auth = "Authentication (Authorization: Bearer TOKEN)";
  command
      ->add_option("--api-token", args->tokens,
                   "A token with full access, repeatable or comma-separated (16 to 512 visible "
                   "ASCII characters)")
      ->envname("API_BROKER_API_TOKENS")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->group(auth);
  command->add_option("--api-token-file", args->token_file, "A file of full tokens, one a line")
      ->group(auth);
  command
      ->add_option("--api-read-token", args->read_tokens,
                   "A read-only token (GET only, e.g. the dashboard's), repeatable or "
                   "comma-separated")
      ->envname("API_BROKER_API_READ_TOKENS")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->group(auth);
  command
      ->add_option("--api-read-token-file", args->read_token_file,
                   "A file of read-only tokens, one a line")
      ->group(auth);
  command->add_option("--tls-cert", args->tls_cert, "PEM certificate chain: serve https")
      ->group(auth);
  command->add_option("--tls-key", args->tls_key, "PEM private key of --tls-cert")->group(auth);
  command->add_flag(
      "--process", args->process,
      "Also run the processor here (with the options below, as `process`); its --api-url "
      "must not be serve's own --listen (the default of both is port 8080 on "
      "loopback: give the API's URL)");
  add_process_options(*command, args->processor);
  // The processor's options under their own heading (--allow-url also checks submissions).
  for (CLI::Option* option : command->get_options()) {
    const std::string& name = option->get_name();
    if (option->get_group() == "Options" && name != "--listen" && name != "--process" &&
        name != "--help") {
      option->group(
          "The processor (with --process, as `process`); --allow-url also for submissions");
    }
  }
  command->callback([&context, args] {
    context.run = [&context, args]() -> int {
      auto options = to_service_options(*args);
      if (!options) return report(options.error());
      auto level = store::parse_log_level(args->processor.log_level);
      if (!level) return report(level.error());
      options->log = make_logger("serve", *level);
      StopSignal stop;
      StopOnSignals on_signals(stop);
      auto open = [&context] { return context.open_store(store::Access::write); };
      // A store that cannot be reached yet is waited for (a stop meanwhile exits 0).
      auto reachable = store::open_when_reachable(
          open, stop, [log = options->log](const std::string& line) { log->warn("{}", line); });
      if (!reachable) {
        if (reachable.error().code == Errc::cancelled) return exit_ok;
        return report(reachable.error());
      }
      (void)(*reachable)->close();
      auto service = service::Service::start(*options, open);
      if (!service) return report(service.error());
      // One line that scripts and tests read: where it listens.
      fmt::print("listening on {}\n", (*service)->url());
      std::fflush(stdout);
      auto done = (*service)->run_until(stop);
      if (!done) return report(done.error());
      return exit_ok;
    };
  });
}

}  // namespace api_broker::cli
