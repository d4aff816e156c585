#!/usr/bin/env bash
# man-page.sh BIN INCLUDE OUT: writes api-broker's man page OUT with help2man from BIN --help and
# --version, the static sections of INCLUDE (api-broker.h2m), and a COMMANDS section holding
# every command's own --help. Run at build time, so the page says what the program does.
set -euo pipefail
bin=$1 include=$2 out=$3
# shellcheck source=packaging/cli-help.sh
source "$(dirname "$0")/cli-help.sh"
commands=$(mktemp "${TMPDIR:-/tmp}/api-broker-man.XXXXXX.h2m")
trap 'rm -f "$commands"' EXIT
{
  echo "[COMMANDS]"
  printf '%s\n' "Each command's options; \\fBapi-broker help\\fR \\fICOMMAND\\fR prints them too."
  while read -r command; do
    echo ".SS \"api-broker $command\""
    echo ".nf"
    # Verbatim: backslashes escaped, and \& so that no line reads as a request.
    # shellcheck disable=SC2086 # a nested command is two words
    cli_help "$bin" $command | sed -e 's/\\/\\e/g' -e 's/^/\\\&/'
    echo ".fi"
  done < <(cli_commands "$bin")
} >"$commands"
help2man --no-info --section 1 \
  --name "reliable calls to unreliable HTTP APIs, every step recorded as an event" \
  --include "$include" --include "$commands" --output "$out.tmp" "$bin"
mv "$out.tmp" "$out"
