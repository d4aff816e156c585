#include "config_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>

#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"
#include "toml_reader.hpp"

namespace api_broker::cli {
namespace {

constexpr const char* config_env = "API_BROKER_CONFIG";

// The command a table names ([target.set]: `target set`), or null.
const CLI::App* command_of(const CLI::App& root, const std::vector<std::string>& table) {
  const CLI::App* app = &root;
  for (const std::string& name : table) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : app->get_subcommands({})) {
      if (sub->get_name() == name) next = sub;
    }
    if (next == nullptr) return nullptr;
    app = next;
  }
  return app;
}

// The option whose long name is `key`, if it may come from a file.
const CLI::Option* option_of(const CLI::App& command, const std::string& key) {
  for (const CLI::Option* option : command.get_options()) {
    const auto& names = option->get_lnames();
    if (std::find(names.begin(), names.end(), key) == names.end()) continue;
    if (!option->get_configurable() || key == "help") return nullptr;
    return option;
  }
  return nullptr;
}

std::string joined(const std::vector<std::string>& table, const std::string& key) {
  return table.empty() ? key : fmt::format("{}.{}", fmt::join(table, "."), key);
}

// Whether the option's environment variable gives it a value (which beats the file).
bool set_by_environment(const CLI::Option& option) {
  const std::string name = option.get_envname();
  if (name.empty()) return false;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read while parsing, before any thread starts
  const char* value = std::getenv(name.c_str());
  return value != nullptr && *value != '\0';
}

}  // namespace

std::vector<CLI::ConfigItem> ConfigFile::from_config(std::istream& input) const {
  // CLI11 opens the file it was given: its name is the --config value (or its default).
  file_ = app_.get_config_ptr()->as<std::string>();
  origins_.clear();
  const auto fail_at = [this](const std::string& what) {
    return CLI::ConfigError(fmt::format("config file {}: {}", events::printable(file_, 256), what));
  };
  std::string text;
  text.resize(limits::config_file_bytes_max + 1);
  input.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(input.gcount()));
  if (text.size() > limits::config_file_bytes_max) {
    throw fail_at(fmt::format("larger than {} bytes", limits::config_file_bytes_max));
  }
  auto entries = read_toml(text);
  if (!entries) throw fail_at(entries.error().message);

  std::vector<CLI::ConfigItem> out;
  for (const TomlEntry& entry : *entries) {
    const std::string key = joined(entry.table, entry.key);
    const auto at = [&](const std::string& what) {
      return fail_at(fmt::format("line {}, key {}: {}", entry.line, events::printable(key), what));
    };
    const CLI::App* command = command_of(app_, entry.table);
    if (command == nullptr) {
      throw at(fmt::format("[{}] is not a command", fmt::join(entry.table, ".")));
    }
    const CLI::Option* option = option_of(*command, entry.key);
    if (option == nullptr) {
      throw at(command == &app_
                   ? std::string("not a global option (a command's options go in its [table])")
                   : fmt::format("not an option of `{}`", fmt::join(entry.table, " ")));
    }
    const bool flag = option->get_expected_min() == 0;
    if (flag && !entry.is_boolean) throw at("a flag takes true or false");
    if (!flag && entry.is_boolean) throw at("takes a value, not true or false");
    if (entry.is_array && option->get_items_expected_max() <= 1) {
      throw at("takes one value, not an array");
    }
    // A flag given or an environment variable set beats the file.
    if (option->count() > 0 || set_by_environment(*option)) continue;
    origins_.push_back(Origin{option->get_lnames().front(), key, entry.table, entry.line});
    CLI::ConfigItem item;
    item.parents = entry.table;
    item.name = entry.key;
    item.inputs = entry.values;
    out.push_back(std::move(item));
  }
  return out;
}

std::string ConfigFile::origin_of(const std::string& message,
                                  const std::vector<std::vector<std::string>>* tables) const {
  for (const Origin& origin : origins_) {
    if (tables != nullptr &&
        std::find(tables->begin(), tables->end(), origin.table) == tables->end()) {
      continue;
    }
    const std::string name = "--" + origin.option;
    for (auto at = message.find(name); at != std::string::npos; at = message.find(name, at + 1)) {
      const std::size_t end = at + name.size();
      const bool whole =
          end == message.size() ||
          !(std::isalnum(static_cast<unsigned char>(message[end])) != 0 || message[end] == '-');
      if (whole) {
        return fmt::format("config file {}: line {}, key {}: ", events::printable(file_, 256),
                           origin.line, origin.key);
      }
    }
  }
  return {};
}

void add_config_option(CLI::App& app) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read while parsing, before any thread starts
  const char* from_env = std::getenv(config_env);
  const bool env_set = from_env != nullptr && *from_env != '\0';
  // CLI11 reads the file before it looks at the environment: the variable is the default
  // file, and required so that a missing one is an error, not ignored.
  app.set_config("--config", env_set ? from_env : "",
                 "Read options from this TOML file: global options by their long name at the "
                 "top, a command's in its [table] ([serve], [process], [target.set]); a flag "
                 "beats its environment variable, which beats the file",
                 env_set)
      ->type_name("FILE")
      ->envname(config_env);
  app.config_formatter(std::make_shared<ConfigFile>(app));
}

std::string with_config_origin(const CLI::App& app, std::string message) {
  const auto config = std::dynamic_pointer_cast<ConfigFile>(app.get_config_formatter());
  if (config == nullptr) return message;
  // CLI11's FileError::Missing: "NAME was not readable (missing?)".
  if (message.ends_with(" was not readable (missing?)")) return "config file " + message;
  return config->origin_of(message) + message;
}

std::string with_run_config_origin(const CLI::App& app, std::string message) {
  const auto config = std::dynamic_pointer_cast<ConfigFile>(app.get_config_formatter());
  if (config == nullptr) return message;
  // The global table, then the command chosen ([target.set] for `target set`).
  std::vector<std::vector<std::string>> tables{{}};
  for (const CLI::App* command = &app; !command->get_subcommands().empty();) {
    command = command->get_subcommands().front();
    auto table = tables.back();
    table.push_back(command->get_name());
    tables.push_back(std::move(table));
  }
  return config->origin_of(message, &tables) + message;
}

}  // namespace api_broker::cli
