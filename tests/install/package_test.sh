#!/usr/bin/env bash
# package_test.sh BUILD_DIR: builds the Debian package with cpack, inspects it (dpkg-deb -I/-c),
# installs it and runs the program from its installed paths: `--version`, `insert` and `list` on
# a new SQLite file. The install is `dpkg -i` into this system only when running as root with
# API_BROKER_PACKAGE_TEST=1 (CI sets it), followed by `dpkg -r` (and a purge, so that a second
# run starts from the same system); otherwise `dpkg -x` into a temporary directory.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-package.XXXXXX")
installed_here=false
cleanup() {
  if $installed_here; then
    dpkg -r api-broker >/dev/null
    dpkg --purge api-broker >/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "package_test: $*" >&2
  exit 1
}

(cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out") >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
debs=("$work"/out/api-broker_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "cpack made no api-broker_*.deb"
deb=${debs[0]}
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")

info=$(dpkg-deb -I "$deb")
grep -qx " Package: api-broker" <<<"$info" || fail "the package is not named api-broker"
grep -qx " Version: $version" <<<"$info" || fail "the package's version is not $version"
grep -q "^ Maintainer: ." <<<"$info" || fail "the package names no maintainer"
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
for library in libsqlite3 libpq5 libmongoc libssl3; do
  grep -q "$library" <<<"$depends" || fail "the package does not depend on $library: $depends"
done
[[ $(dpkg-deb -f "$deb" Package) == api-broker ]] || fail "dpkg-deb -f does not read it"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/api-broker/api-broker.toml ||
  fail "the configuration is not a conffile"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for path in ./usr/bin/api-broker ./usr/share/man/man1/api-broker.1 \
  ./usr/share/bash-completion/completions/api-broker ./usr/lib/systemd/system/api-broker.service \
  ./etc/api-broker/api-broker.toml; do
  grep -qx "$path" <<<"$contents" || fail "the package lacks $path"
done
if grep -q -e '\.a$' -e '^./usr/include' <<<"$contents"; then
  fail "the package carries the libraries or headers (they come with cmake --install)"
fi

if [[ $(id -u) -eq 0 && ${API_BROKER_PACKAGE_TEST:-} == 1 ]]; then
  dpkg -i "$deb" >"$work/dpkg.log" || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
  installed_here=true
  root=""
  [[ $(command -v api-broker) == /usr/bin/api-broker ]] || fail "api-broker is not on the PATH"
else
  dpkg -x "$deb" "$work/root"
  root=$work/root
fi
unit=$root/usr/lib/systemd/system/api-broker.service
grep -qx "ExecStart=/usr/bin/api-broker --config /etc/api-broker/api-broker.toml serve --process" \
  "$unit" || fail "the unit does not run /usr/bin/api-broker with /etc/api-broker/api-broker.toml"
bin=$root/usr/bin/api-broker
# The unit as systemd reads it (where systemd-analyze is): no unknown key, no bad value. The
# copy runs the binary where it is and names no man page (verify runs man, needing it installed).
if command -v systemd-analyze >/dev/null; then
  sed -e "s|^ExecStart=/usr/bin/api-broker|ExecStart=$bin|" -e '/^Documentation=/d' "$unit" \
    >"$work/api-broker.service"
  problems=$(systemd-analyze verify "$work/api-broker.service" 2>&1) || true
  [[ -z $problems ]] || fail "systemd-analyze verify: $problems"
fi
"$bin" --version | grep -q "^api-broker $version (git " || fail "--version: $("$bin" --version)"
db=$work/events.db
id=$("$bin" --eventstore-db-path "$db" insert simple hello)
"$bin" --eventstore-db-path "$db" list | grep -q hello || fail "list does not show the event $id"
# The installed configuration is one the program reads (with --config, issue 14's "Configure").
if "$bin" --help | grep -q -- '--config'; then
  "$bin" --config "$root/etc/api-broker/api-broker.toml" --eventstore-db-path "$db" list |
    grep -q hello || fail "api-broker --config does not read /etc/api-broker/api-broker.toml"
fi
if $installed_here; then
  dpkg -r api-broker >/dev/null
  installed_here=false
  [[ ! -e /usr/bin/api-broker ]] || fail "dpkg -r left /usr/bin/api-broker"
  dpkg --purge api-broker >/dev/null
  echo "package_test: built, inspected, installed with dpkg -i, ran, removed"
else
  echo "package_test: built, inspected, unpacked with dpkg -x, ran"
fi
