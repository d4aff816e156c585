#!/usr/bin/env bash
# Installs what api-broker needs to build and test, from Debian's packages only.
# Idempotent: when everything is there it only checks (well under a second).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libsqlite3-dev sqlite3
  libpq-dev postgresql
  libmongoc-dev libbson-dev python3-mongomock python3-bson
  libboost-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy graphviz
  help2man dpkg-dev file  # the man page (from --help); the .deb (cpack: dpkg-shlibdeps, file)
  clang-14 libclang-rt-14-dev
  prometheus-cpp-dev prometheus chromium
  nodejs  # the browser test; its npm (nodesource's, or Debian's package npm) installs playwright-core
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
