#!/usr/bin/env bash
# Builds the Debian package `wacast` (cargo-deb, metadata in producer/Cargo.toml): one release
# build of wacast and wacast-worker (stripped by the release profile), the man pages of both
# and wacast's bash, zsh and fish completions (written by the binaries themselves), the
# systemd units rewritten for /usr/bin (staged by scripts/install.sh), then `cargo deb`.
# Prints the .deb's path on stdout; everything else goes to stderr.
#
# Usage: scripts/package.sh [--no-build]
#   --no-build   package the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_cargo_deb

build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "unknown option $1 (usage: scripts/package.sh [--no-build])" >&2; exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$(pwd)/$target_dir ;; esac
release=$target_dir/release

if [ "$build" = 1 ]; then
  echo "== release build" >&2
  cargo build --release --locked -p wacast-producer -p wacast-worker >&2
fi

# What cargo-deb's assets name under target/release/package/ (see producer/Cargo.toml).
stage=$release/package
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"
# No configuration file of this host may leak into the generated files.
export WACAST_CONFIG=/dev/null
"$release/wacast" manpages --out "$stage/man" >/dev/null
"$release/wacast-worker" manpages --out "$stage/man"
# Compressed, as Debian's policy asks of man pages (-n: no time stamp, the same bytes each build).
gzip -9n "$stage"/man/*.1
"$release/wacast" completions bash > "$stage/completions/wacast.bash"
"$release/wacast" completions zsh > "$stage/completions/_wacast"
"$release/wacast" completions fish > "$stage/completions/wacast.fish"
DESTDIR="$stage/root" scripts/install.sh --no-build --bin-dir "$release" --prefix /usr \
  --unitdir /usr/lib/systemd/system >/dev/null

echo "== cargo deb" >&2
cargo deb --no-build --locked -p wacast-producer --output "$target_dir/debian/" >&2
ls -t "$target_dir"/debian/wacast_*.deb | head -n1
