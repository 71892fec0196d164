#!/usr/bin/env bash
# Installs wacast on this host: builds the release binaries, installs `wacast` and
# `wacast-worker`, the systemd units and the documentation, and creates /etc/wacast/worker.env
# from the example when there is none. It never starts, enables or reloads anything: it prints
# the steps that do.
#
# Usage: scripts/install.sh [--prefix DIR] [--sysconfdir DIR] [--unitdir DIR] [--no-build]
#                           [--bin-dir DIR]
#   --prefix DIR      binaries go to DIR/bin, documentation to DIR/share/doc/wacast
#                     (default /usr/local); the units are written to run DIR/bin/wacast-worker
#   --sysconfdir DIR  configuration directory (default /etc): DIR/wacast/worker.env
#   --unitdir DIR     systemd units (default /etc/systemd/system)
#   --no-build        do not run cargo; use the binaries already built
#   --bin-dir DIR     where the built binaries are (default target/release)
#   DESTDIR=/tmp/pkg  stage every file under /tmp/pkg instead of / (for packaging)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
sysconfdir=/etc
unitdir=/etc/systemd/system
build=1
bin_dir=target/release
destdir=${DESTDIR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --unitdir) unitdir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
prefix=${prefix%/}

if [ "$build" = 1 ]; then
  command -v cargo >/dev/null 2>&1 || {
    echo "cargo is not on PATH: build first (cargo build --release) and use --no-build" >&2
    exit 2
  }
  echo "== building release binaries"
  cargo build --release --locked -p wacast-producer -p wacast-worker
fi
for binary in wacast wacast-worker; do
  [ -x "$bin_dir/$binary" ] || { echo "$bin_dir/$binary is missing: build it first" >&2; exit 2; }
done

echo "== installing into ${destdir:-/}"
install -d -m 0755 "$destdir$prefix/bin" "$destdir$unitdir" "$destdir$prefix/share/doc/wacast"
for binary in wacast wacast-worker; do
  install -m 0755 "$bin_dir/$binary" "$destdir$prefix/bin/$binary"
  echo "$prefix/bin/$binary"
done
for unit in deploy/*.service deploy/*.timer; do
  target="$destdir$unitdir/$(basename "$unit")"
  sed -e "s#/usr/local/bin/#$prefix/bin/#g" -e "s#/etc/wacast/#$sysconfdir/wacast/#g" \
    "$unit" > "$target.tmp"
  chmod 0644 "$target.tmp"
  mv "$target.tmp" "$target"
  echo "$unitdir/$(basename "$unit")"
done
for doc in deploy/README.md deploy/worker.env.example deploy/redis.conf; do
  install -m 0644 "$doc" "$destdir$prefix/share/doc/wacast/$(basename "$doc")"
done
echo "$prefix/share/doc/wacast/ (README.md, worker.env.example, redis.conf)"

# The configuration is the operator's: created once, never overwritten. Readable by root only,
# since a Redis URL may hold a password.
install -d -m 0750 "$destdir$sysconfdir/wacast"
env_file="$destdir$sysconfdir/wacast/worker.env"
if [ -e "$env_file" ]; then
  echo "$sysconfdir/wacast/worker.env exists: left as it is (compare it with $prefix/share/doc/wacast/worker.env.example)"
else
  install -m 0640 deploy/worker.env.example "$env_file"
  echo "$sysconfdir/wacast/worker.env (from the example)"
fi

cat <<MSG

Installed. Nothing was started. Next steps:
  1. Edit $sysconfdir/wacast/worker.env: the Redis URL, default sender rates (see the
     comments; "wacast rate set" changes a sender's rate for every worker at once).
     Redis itself: see $prefix/share/doc/wacast/redis.conf (appendonly yes, noeviction).
  2. Write the key of each provider your campaigns use, readable by root only (the unit hands
     them to the worker; a worker needs at least one):
       install -m 0600 /dev/null $sysconfdir/wacast/seven-api-key
       editor $sysconfdir/wacast/seven-api-key        # one line: seven's API key
       install -m 0600 /dev/null $sysconfdir/wacast/bird-access-key
       editor $sysconfdir/wacast/bird-access-key      # one line: Bird's access key
  3. Load the units:
       systemctl daemon-reload
  4. Start a worker, and more instances if you like (each claims its own share of the work);
     its start runs check-config, and journalctl -u wacast-worker@1 says what it refused:
       systemctl enable --now wacast-worker@1
       systemctl enable --now wacast-worker@2
  5. Purge finished campaigns daily (30 days retention; see $prefix/share/doc/wacast/README.md):
       systemctl enable --now wacast-purge.timer
  6. The console in the browser, if you like (its operator token first):
       install -m 0600 /dev/null $sysconfdir/wacast/console-token
       openssl rand -hex 24 > $sysconfdir/wacast/console-token
       systemctl enable --now wacast-console
  Then: journalctl -u 'wacast-worker@*' -f, and wacast list / wacast status ID.
MSG
