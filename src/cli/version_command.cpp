// `api-broker --version` and `api-broker version`.

#include <fmt/format.h>

#include <string>

#include "version.hpp"

namespace api_broker::cli {

void add_version_command(CLI::App& app, Context& context) {
  app.set_version_flag("--version", std::string(version_text()), "Print the version and exit");
  app.add_subcommand("version", "Print the version: api-broker's and the git commit built")
      ->callback([&context] {
        context.run = [] {
          fmt::print("{}\n", version_text());
          return exit_ok;
        };
      });
}

}  // namespace api_broker::cli
