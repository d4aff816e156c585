#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR CXX [LAUNCHER]: `cmake --install` of the build tree into
# a temporary prefix puts every file in its place; a second install keeps the configuration an
# administrator edited; and a project of someone else's (consumer/) configures with
# find_package(api_broker), builds with the same compiler and runs.
set -euo pipefail
build=$1 source=$2 cxx=$3 launcher=${4:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() {
  echo "install_test: $*" >&2
  exit 1
}

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for file in bin/api-broker share/man/man1/api-broker.1 \
  share/bash-completion/completions/api-broker lib/systemd/system/api-broker.service \
  etc/api-broker/api-broker.toml share/doc/api-broker/examples/api-broker.toml \
  include/api_broker/events/uuid.hpp include/api_broker/store/open_store.hpp; do
  [[ -e $prefix/$file ]] || fail "$file is not installed"
done
config_dir=$(dirname "$(find "$prefix" -name api_broker-config.cmake)")
[[ -f $config_dir/api_broker-config-version.cmake ]] || fail "no api_broker-config-version.cmake"
grep -qx "ExecStart=$prefix/bin/api-broker --config $prefix/etc/api-broker/api-broker.toml serve --process" \
  "$prefix/lib/systemd/system/api-broker.service" || fail "the unit's ExecStart names other paths"
"$prefix/bin/api-broker" --version | grep -q '^api-broker ' || fail "the installed binary does not run"

echo "# edited" >>"$prefix/etc/api-broker/api-broker.toml"
cmake --install "$build" --prefix "$prefix" >"$work/install-again.log"
grep -qx "# edited" "$prefix/etc/api-broker/api-broker.toml" || fail "a reinstall overwrote the configuration"

cmake -S "$source/tests/install/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; fail "the consumer does not configure"; }
cmake --build "$work/consumer" -j2 >"$work/build.log" ||
  { cat "$work/build.log" >&2; fail "the consumer does not build"; }
"$work/consumer/consumer" | grep -qx 'consumer: ok 1' || fail "the consumer does not run"
echo "install_test: installed into a prefix, reinstalled, and a consumer built and ran"
