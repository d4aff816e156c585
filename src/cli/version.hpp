#pragma once
// `api-broker --version` and `api-broker version`.

#include <CLI/CLI.hpp>

#include <string_view>

#include "context.hpp"

namespace api_broker::cli {

// "api-broker 0.1.0 (git 477057e)": project()'s version and the commit built, taken at build
// time ("unknown" outside a git checkout, as in a tarball).
std::string_view version_text();

// Adds the global --version flag (main() passes CLI::CallForVersion to app.exit) and the
// `version` command; both print version_text() and exit 0.
void add_version_command(CLI::App& app, Context& context);

}  // namespace api_broker::cli
