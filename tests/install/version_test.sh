#!/usr/bin/env bash
# version_test.sh BIN SOURCE_DIR VERSION: `--version` and `version` print
# "api-broker VERSION (git REVISION)"; cmake/git_revision.cmake takes the commit of a git
# checkout, and "unknown" outside one (a tarball), even when unpacked inside another checkout.
set -euo pipefail
bin=$1 source=$2 version=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-version.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
  echo "version_test: $*" >&2
  exit 1
}

line=$("$bin" --version)
[[ $line =~ ^api-broker\ ${version//./\\.}\ \(git\ ([0-9a-f]{7,}|unknown)\)$ ]] ||
  fail "--version printed '$line'"
[[ $("$bin" version) == "$line" ]] || fail "version printed '$("$bin" version)', not '$line'"

revision_of() {  # the revision git_revision.cmake takes for the source directory $1
  echo '@API_BROKER_VERSION@ @API_BROKER_GIT_REVISION@' >"$work/template"
  cmake -DSOURCE_DIR="$1" -DVERSION=9.8.7 -DTEMPLATE="$work/template" -DOUTPUT="$work/out" \
    -P "$source/cmake/git_revision.cmake"
  cat "$work/out"
}
mkdir -p "$work/repo/unpacked" "$work/plain"
git -C "$work/repo" init -q
git -C "$work/repo" -c user.name=test -c user.email=test@localhost commit -q --allow-empty -m one
expected=$(git -C "$work/repo" rev-parse --short HEAD)
[[ $(revision_of "$work/repo") == "9.8.7 $expected" ]] || fail "a checkout: $(revision_of "$work/repo")"
[[ $(revision_of "$work/plain") == "9.8.7 unknown" ]] || fail "no checkout: $(revision_of "$work/plain")"
[[ $(revision_of "$work/repo/unpacked") == "9.8.7 unknown" ]] ||
  fail "a tarball inside a checkout: $(revision_of "$work/repo/unpacked")"
echo "version_test: $line"
