#!/usr/bin/env bash
# bash-completion.sh BIN OUT: writes the bash completion of api-broker: its commands, their
# subcommands and flags, read from BIN's --help at build time so that they cannot drift.
# Where no command or flag fits (an option's value), bash completes file names.
set -euo pipefail
bin=$1 out=$2
# shellcheck source=packaging/cli-help.sh
source "$(dirname "$0")/cli-help.sh"

# One case branch per command path: `"target set") words="...";;`
cases() {  # cases FUNCTION: FUNCTION's words for the program and for every command path
  local lister=$1 command
  printf '    "") words="%s" ;;\n' "$("$lister" "$bin" | xargs)"
  while read -r command; do
    # shellcheck disable=SC2086 # a nested command is two words
    printf '    "%s") words="%s" ;;\n' "$command" "$("$lister" "$bin" $command | xargs)"
  done < <(cli_commands "$bin")
}

{
  cat <<'HEAD'
# bash completion for api-broker, generated from `api-broker --help` (packaging/bash-completion.sh).

# _api_broker_words KIND PATH: the subcommands, flags or flags that take a value (KIND commands,
# flags, valued) of the command PATH ("" for the program).
_api_broker_words() {
  local words=""
  case "$1" in
  commands)
    case "$2" in
HEAD
  cases cli_subcommands
  cat <<'FLAGS'
    esac ;;
  flags)
    case "$2" in
FLAGS
  cases cli_flags
  cat <<'VALUED'
    esac ;;
  valued)
    case "$2" in
VALUED
  cases cli_valued_flags
  cat <<'TAIL'
    esac ;;
  esac
  echo "$words"
}

# _api_broker_takes_value PATH FLAG: whether FLAG takes a value (in PATH or the program).
_api_broker_takes_value() {
  [[ " $(_api_broker_words valued "$1") $(_api_broker_words valued "") " == *" $2 "* ]]
}

_api_broker() {
  local cur=${COMP_WORDS[COMP_CWORD]} path="" word i
  COMPREPLY=()
  # The command path so far: the words before the cursor that name a (sub)command, not counting
  # flags and the values of those that take one.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      [[ $word != *=* ]] && _api_broker_takes_value "$path" "$word" && ((i++))
      continue
    fi
    if [[ " $(_api_broker_words commands "$path") " == *" $word "* ]]; then
      path=${path:+$path }$word
    fi
  done
  # An option's value: left to bash (file names).
  if ((COMP_CWORD > 1)) && _api_broker_takes_value "$path" "${COMP_WORDS[COMP_CWORD - 1]}"; then
    return 0
  fi
  if [[ $cur == -* ]]; then
    # The command's flags, and the program's (they are accepted after a command too).
    mapfile -t COMPREPLY < <(compgen -W "$(_api_broker_words flags "$path") \
      $(_api_broker_words flags "")" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "$(_api_broker_words commands "$path")" -- "$cur")
  fi
}
complete -o default -F _api_broker api-broker
TAIL
} >"$out.tmp"
mv "$out.tmp" "$out"
