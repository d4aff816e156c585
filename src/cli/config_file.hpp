#pragma once
// --config FILE (or $API_BROKER_CONFIG): the options of every command from a TOML file,
// through CLI11's config support. Top-level keys are the global options by their long name
// (eventstore-db-path = "..."), a table per command holds its options ([serve], [process],
// [target.set]). Precedence: a flag, then the environment variable, then the file, then the
// default. A bad file is one line naming the file, the line and the key.

#include <CLI/CLI.hpp>

#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace api_broker::cli {

// CLI11's config formatter for api-broker's TOML files. Reads strictly (toml_reader.hpp),
// checks every key against the commands' options and every value against its option's shape,
// and leaves out what a flag or a set environment variable gives.
class ConfigFile final : public CLI::ConfigBase {
 public:
  explicit ConfigFile(const CLI::App& app) : app_(app) {}
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  // "FILE line N, key K: " when `message` names an option this file set in one of `tables`
  // (none given: in any), else "".
  [[nodiscard]] std::string origin_of(
      const std::string& message,
      const std::vector<std::vector<std::string>>* tables = nullptr) const;

 private:
  struct Origin {
    std::string option;              // --name
    std::string key;                 // as in the file: [serve] listen -> serve.listen
    std::vector<std::string> table;  // {"serve"}; a global option: {}
    std::size_t line = 0;
  };
  const CLI::App& app_;
  mutable std::string file_;
  mutable std::vector<Origin> origins_;
};

// Adds --config to `app` (the root) with a ConfigFile formatter.
void add_config_option(CLI::App& app);

// `message` of an error in parsing, prefixed with where the config file set the option it
// names ("config file FILE line N, key K: ...").
std::string with_config_origin(const CLI::App& app, std::string message);
// The same for an error of the command run: only its own table and the global options count.
std::string with_run_config_origin(const CLI::App& app, std::string message);

}  // namespace api_broker::cli
