#!/usr/bin/env bash
# Prints wacast's figures, one line each: `name value unit`, followed by the goal the issues ask
# for and whether it is met (`ok` / `MISSED`). Benchmarks are not tests: run this on a quiet
# machine. Each piece prints its own lines; this script adds the comparison.
#
# Usage: scripts/bench.sh [PIECE...]   pieces: gateway ingest worker fleet units (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_redis_server

# name -> "op goal" (op: ge means value >= goal is good, le means value <= goal is good)
declare -A GOALS=(
  [mock_gateway_rps]="ge 20000"
  [ingest_rows_per_s]="ge 200000"
  [ingest_peak_rss_mb]="le 64"
  [redis_bytes_per_queued_message]="le 350"
  [send_msgs_per_s_0ms]="ge 15000"
  [send_msgs_per_s_20ms]="ge 15000"
  [worker_cpu_ms_per_1k_msgs]="le 40"
  [rate_precision]="le 1.02"
  [rate_mean_error_pct]="le 1"
  [schedule_lateness_first_ms]="le 50"
  [schedule_lateness_p99_ms]="le 600"
  [systemd_exposure]="le 2.0"
  [fleet_rate_precision]="le 1.017"
  [fleet_mean_rate_error_pct]="le 2"
)

compare() {
  while read -r name value unit rest; do
    [ -n "${name:-}" ] || continue
    local goal=${GOALS[$name]:-}
    if [ -z "$goal" ]; then
      echo "$name $value $unit"
      continue
    fi
    local op=${goal%% *} target=${goal#* } verdict
    if python3 -c "import sys; v=float('$value'); t=float('$target'); sys.exit(0 if (v>=t if '$op'=='ge' else v<=t) else 1)"; then
      verdict=ok
    else
      verdict=MISSED
    fi
    local sign='>='; [ "$op" = le ] && sign='<='
    echo "$name $value $unit (goal $sign $target: $verdict)"
  done
}

load=$(cut -d' ' -f1 /proc/loadavg)
echo "# load average before the run: $load (benchmarks want a quiet machine)" >&2

pieces=("$@")
[ ${#pieces[@]} -gt 0 ] || pieces=(gateway ingest worker fleet units)
cargo build --release --workspace --quiet
export BENCH_NO_BUILD=1
for piece in "${pieces[@]}"; do
  "scripts/bench-$piece.sh" | compare
done
