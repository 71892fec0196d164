#!/usr/bin/env bash
# Throughput of mock-gateway on ONE core, so that benchmarks of wacast know the mock is not their
# bottleneck. Builds release binaries, pins the gateway (one tokio thread) to core 0 and loadgen
# to core 1, runs loadgen three times and prints exactly one line on stdout:
#
#   mock_gateway_rps <median> req/s     (requests per second of gateway CPU: one core's worth)
#
# Everything else goes to stderr. Environment: BENCH_GATEWAY_DURATION (seconds per run, default 5),
# BENCH_GATEWAY_CONNECTIONS (default 32), BENCH_NO_BUILD=1 to reuse binaries already built,
# CARGO_TARGET_DIR as cargo reads it. Only 127.0.0.1 is ever contacted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
duration="${BENCH_GATEWAY_DURATION:-5}"
connections="${BENCH_GATEWAY_CONNECTIONS:-32}"

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet -p wacast-tests --bin mock-gateway --bin loadgen >&2
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release"

# Pin to separate cores where there are two; on one core the figure is a lower bound.
gateway_cpu=()
loadgen_cpu=()
if command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then
    gateway_cpu=(taskset -c 0)
    loadgen_cpu=(taskset -c 1)
else
    echo "bench-gateway: taskset or a second core missing; running unpinned" >&2
fi

workdir="$(mktemp -d)"
gateway_pid=""
cleanup() {
    if [[ -n "$gateway_pid" ]]; then
        kill "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

"${gateway_cpu[@]}" "$bin/mock-gateway" --bind 127.0.0.1 --port 0 --threads 1 \
    >"$workdir/gateway.out" 2>"$workdir/gateway.err" &
gateway_pid=$!

addr=""
for _ in $(seq 100); do
    line="$(head -n 1 "$workdir/gateway.out" 2>/dev/null || true)"
    if [[ "$line" == "listening on "* ]]; then
        addr="${line#listening on }"
        break
    fi
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [[ -z "$addr" ]]; then
    echo "bench-gateway: mock-gateway did not start:" >&2
    cat "$workdir/gateway.err" >&2
    exit 1
fi

# CPU time the gateway used, in clock ticks: with other work on the machine the wall-clock rate
# understates what one core does, so each run also reports requests per gateway CPU-second.
gateway_ticks() { awk '{print $14 + $15}' "/proc/$gateway_pid/stat" 2>/dev/null || echo 0; }
ticks_per_second="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# The figure is requests per second of gateway CPU: what one core fully given to the gateway
# serves. On this 2-core machine the load generator on the other core cannot keep the gateway's
# core busy (it idles about half the time), so the wall-clock rate measures loadgen, not the
# gateway; both are printed on stderr.
results=()
for run in 1 2 3; do
    ticks_before="$(gateway_ticks)"
    line="$("${loadgen_cpu[@]}" "$bin/loadgen" --url "http://$addr" \
        --connections "$connections" --duration "$duration")"
    ticks_used=$(($(gateway_ticks) - ticks_before))
    ok="$(sed -E 's/.*\(([0-9]+) ok.*/\1/' <<<"$line")"
    per_cpu_second="n/a"
    if [[ "$ticks_used" -gt 0 ]]; then
        per_cpu_second=$((ok * ticks_per_second / ticks_used))
    fi
    echo "bench-gateway: run $run: $line; $per_cpu_second per gateway CPU-second" >&2
    results+=("$per_cpu_second")
done
median="$(printf '%s\n' "${results[@]}" | sort -n | sed -n 2p)"
echo "mock_gateway_rps $median req/s"
