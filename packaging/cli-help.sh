#!/usr/bin/env bash
# Reads api-broker's command tree from its own --help (sourced by man-page.sh and
# bash-completion.sh, so that what they generate is what the program accepts). CLI11's help
# lists a command's subcommands under "Subcommands:" and its options two spaces in, as
# "-h,--help" or "--listen TEXT"; a description's continuation lines are indented further.

# A sanitizer build's binary runs here too: what it prints matters, not what it leaks at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

# cli_help BIN [COMMAND...]: the help of the program or of a (nested) command.
cli_help() {
  local bin=$1
  shift
  "$bin" "$@" --help
}

# cli_subcommands BIN [COMMAND...]: the names of the command's subcommands, one a line.
cli_subcommands() {
  cli_help "$@" | awk '/^Subcommands:$/ {in_list = 1; next}
    in_list && /^$/ {in_list = 0}
    in_list && /^  [a-z]/ {print $1}'
}

# cli_flags BIN [COMMAND...]: the command's flags (-h, --help, --listen, ...), one a line.
cli_flags() {
  cli_help "$@" | awk '/^Subcommands:$/ {in_list = 1; next}
    in_list && /^$/ {in_list = 0}
    !in_list && /^  -/ {n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i]}'
}

# cli_valued_flags BIN [COMMAND...]: the command's flags that take a value (whose name is
# followed by a type: "--listen TEXT=...", "--retries INT:DECIMAL"), one a line.
cli_valued_flags() {
  cli_help "$@" | awk '/^  -/ && $2 ~ /^(TEXT|INT|UINT|FLOAT|BOOLEAN|ENUM|NUMBER)([=:]|$)/ {
    n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i]}'
}

# cli_commands BIN: every command path, one a line: "insert", "target set", ...
cli_commands() {
  local bin=$1 command sub
  while read -r command; do
    echo "$command"
    while read -r sub; do
      echo "$command $sub"
    done < <(cli_subcommands "$bin" "$command")
  done < <(cli_subcommands "$bin")
}
