#!/usr/bin/env bash
# Fleet figures: three wacast-worker processes sharing one sender's rate (see
# scripts/bench_worker.py, mode `fleet`, for what each line means).
# Environment: BENCH_FLEET_MESSAGES (default 3000), BENCH_FLEET_RATE (default 60),
# BENCH_NO_BUILD=1 to reuse release binaries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet --workspace --bins >&2
fi
exec python3 scripts/bench_worker.py "${CARGO_TARGET_DIR:-$root/target}/release" fleet
