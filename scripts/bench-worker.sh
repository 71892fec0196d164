#!/usr/bin/env bash
# Sending figures of wacast-worker (see scripts/bench_worker.py for what each line means);
# `bench-worker.sh fleet` prints the fleet figures instead. Redis runs durable in every figure
# (`appendonly yes`, `appendfsync always`, on disk), as the worker requires by default;
# `send_msgs_per_s_durable_replica` adds a replica acknowledging every batch of marks.
# Environment: BENCH_WORKER_RUNS (default 3), BENCH_WORKER_MESSAGES (default 100000),
# BENCH_NO_BUILD=1 to reuse release binaries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet --workspace --bins >&2
fi
exec python3 scripts/bench_worker.py "${CARGO_TARGET_DIR:-$root/target}/release" "$@"
