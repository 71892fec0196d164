#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh: one release build) and installs it on this
# machine with `dpkg -i`, then checks what an operator gets: both binaries run and are
# stripped, the man pages and completions are where man and the shells look, the `wacast`
# user exists, /etc/wacast's files are conffiles, the installed units pass `systemd-analyze
# verify`, and nothing was enabled or started. The package is purged at the end. Needs root
# (CI runs as root on a fresh machine). Called by scripts/test.sh.
#
# Usage: scripts/check-package.sh [--no-build]   (--no-build: package the binaries built)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_systemd_analyze
[ "$(id -u)" -eq 0 ] || { echo "scripts/check-package.sh installs a package: run it as root" >&2; exit 2; }
command -v adduser >/dev/null 2>&1 || {
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adduser >&2
}

start=$(date +%s)
deb=$(scripts/package.sh "$@")
echo "package: $deb ($(du -k "$deb" | cut -f1) KiB, built in $(( $(date +%s) - start )) s)"
if dpkg -s wacast >/dev/null 2>&1; then
  echo "FAILED: a wacast package is installed already; remove it first (dpkg --purge wacast)" >&2
  exit 2
fi
trap 'dpkg --purge wacast >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb"

failed=0
fail() { echo "FAILED: $*" >&2; failed=1; }

echo "== the binaries"
for binary in wacast wacast-worker; do
  path=$(command -v "$binary") || { fail "$binary is not on PATH"; continue; }
  [ "$path" = "/usr/bin/$binary" ] || fail "$binary is $path, not /usr/bin/$binary"
  version=$("$binary" --version) || fail "$binary --version failed"
  echo "ok: $version ($(du -k "$path" | cut -f1) KiB)"
  if file "$path" 2>/dev/null | grep -q 'not stripped'; then fail "$path is not stripped"; fi
done

echo "== man pages and completions"
for page in wacast wacast-enqueue wacast-config-show wacast-worker wacast-worker-check-config; do
  if command -v man >/dev/null 2>&1 && [ -d /var/cache/man ]; then
    man -w "$page" >/dev/null 2>&1 || fail "man -w $page finds no page"
  fi
  [ -e "/usr/share/man/man1/$page.1.gz" ] || fail "/usr/share/man/man1/$page.1.gz is missing"
done
for file in /usr/share/bash-completion/completions/wacast /usr/share/zsh/vendor-completions/_wacast \
    /usr/share/fish/vendor_completions.d/wacast.fish; do
  grep -q enqueue "$file" 2>/dev/null || fail "$file is missing or names no command"
done
echo "ok"

echo "== the wacast user and the configuration"
getent passwd wacast >/dev/null || fail "no wacast user"
for conffile in /etc/wacast/worker.env /etc/wacast/wacast.toml; do
  dpkg-query -W -f='${Conffiles}\n' wacast | grep -q " $conffile " || fail "$conffile is no conffile"
done
[ "$(stat -c '%a %U %G' /etc/wacast/wacast.toml)" = "640 root wacast" ] \
  || fail "/etc/wacast/wacast.toml is $(stat -c '%a %U %G' /etc/wacast/wacast.toml), not 640 root wacast"
[ "$(stat -c '%a' /etc/wacast/worker.env)" = 640 ] || fail "/etc/wacast/worker.env is not mode 640"
# The example is all comments: the installed CLI runs on its defaults.
shown=$(wacast config show --format json) || fail "wacast config show failed"
python3 -c 'import json, sys; s = json.load(sys.stdin)["settings"]["prefix"]
sys.exit(s != {"value": "wacast", "from": "default"})' <<<"$shown" || fail "config show: $shown"
echo "ok"

echo "== systemd-analyze verify on the installed units"
units=$(dpkg -L wacast | grep '^/usr/lib/systemd/system/.*\.\(service\|timer\)$')
for unit in wacast-worker@.service wacast-purge.service wacast-purge.timer wacast-console.service; do
  grep -q "/$unit\$" <<<"$units" || fail "the package has no $unit"
done
# Any message is a finding (verify only warns about an unknown or misspelt setting).
if ! out=$(systemd-analyze verify --no-pager $units 2>&1) || [ -n "$out" ]; then
  echo "$out"
  fail "systemd-analyze verify has findings on the installed units"
else
  echo "ok: $(echo $units)"
fi

echo "== nothing enabled or started"
enabled=$(find /etc/systemd/system -name 'wacast*' 2>/dev/null || true)
[ -z "$enabled" ] || fail "units enabled on install: $enabled"
# Only the installed binary: tests elsewhere on this machine may run workers of their own.
if pgrep -f '^/usr/bin/wacast-worker( |$)' >/dev/null; then fail "a wacast-worker runs after the install"; fi
if [ -d /run/systemd/system ]; then
  active=$(systemctl list-units --no-legend 'wacast*' 2>/dev/null || true)
  [ -z "$active" ] || fail "units active after the install: $active"
fi
echo "ok"
exit "$failed"
