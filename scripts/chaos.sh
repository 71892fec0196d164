#!/usr/bin/env bash
# The chaos soak (issue #8): Redis with AOF, the mock gateway with faults, three workers and
# three campaigns; for a bounded time workers are killed, Redis restarts, a campaign is paused,
# another cancelled, a sender's rate changed; then every message is checked. Prints one
# `chaos_NAME VALUE` line per figure and exits non-zero on any violation.
#
#   scripts/chaos.sh --short            # one minute, small campaigns (what scripts/test.sh runs)
#   scripts/chaos.sh                    # the long soak: 5 minutes, 30,000 rows per campaign
#   scripts/chaos.sh --release --minutes 30 --seed 42
#
# --release builds and runs the optimised binaries; every other flag goes to the harness
# (`target/debug/chaos --help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

profile=debug
cargo_flags=()
args=()
for arg in "$@"; do
  case $arg in
    --release) profile=release; cargo_flags=(--release) ;;
    *) args+=("$arg") ;;
  esac
done

ensure_redis_server
cargo build --quiet --bins "${cargo_flags[@]}"
exec "${CARGO_TARGET_DIR:-target}/$profile/chaos" "${args[@]}"
