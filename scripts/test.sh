#!/usr/bin/env bash
# The one test command: formatting, clippy with warnings as errors, every test of the
# workspace, the systemd unit checks, the Debian package (built, installed, checked, purged)
# and a one-minute chaos soak. Tests start their own redis-server on free ports, so only the
# binary is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_redis_server
ensure_systemd_analyze
ensure_faketime
ensure_promtool
ensure_groff
ensure_openssl
ensure_chromium

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (the console's browser test saves its screenshots in target/console-screenshots/)"
cargo test --workspace --locked
echo "== systemd units"
scripts/check-units.sh
echo "== Debian package: built, installed with dpkg -i, checked, purged"
scripts/check-package.sh
echo "== chaos soak, short (scripts/chaos.sh without --short is the long one)"
scripts/chaos.sh --short
