#!/usr/bin/env bash
# completion_test.sh COMPLETION: the generated bash completion completes commands, nested
# commands and each command's flags (with the program's), and leaves option values to bash.
set -euo pipefail
# shellcheck disable=SC1090
source "$1"
complete_line() {  # complete_line WORD...: COMPREPLY for the last word, sorted, on one line
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _api_broker
  printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}
expect() {  # expect WANTED WORD...
  local wanted=$1 got
  shift
  got=$(complete_line "$@")
  [[ $got == "$wanted" ]] || { echo "completion_test: '$*' completed to '$got', not '$wanted'" >&2; exit 1; }
}
expect "insert" api-broker ins
expect "serve" api-broker se
expect "set" api-broker target s
expect "serve" api-broker brittle-api s
expect "--process" api-broker serve --proc
expect "--eventstore-db-path" api-broker serve --eventstore-db-pat
expect "--external-uuid" api-broker insert simple x --external-u
expect "--retry-on" api-broker target set --retry
expect "" api-broker --eventstore-db-path ""
expect "list" api-broker --eventstore-db-path x.db li
expect "--json" api-broker --eventstore-db-path x.db list --js
echo "completion_test: ok"
