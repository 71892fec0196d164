#!/usr/bin/env bash
# Callbacks recorded per second by ONE wacast-worker process: a throwaway Redis, a Bird campaign
# of N rows sent through mock-gateway by that worker (so every message is `sent`, with its
# indexes), then loadgen's `hooks` mode sending signed Bird `delivered` callbacks for those rows
# to the worker's --hooks-addr with a few hundred keep-alive connections. Prints one line:
#
#   hooks_per_s <n> req/s     (callbacks answered 200 per second, the median of 3 runs)
#
# The first run records each row's delivery; later runs find them recorded (duplicates), as a
# provider's retries would. Everything else goes to stderr. Environment: BENCH_HOOKS_ROWS
# (default 50000), BENCH_HOOKS_DURATION (seconds per run, default 5), BENCH_HOOKS_CONNECTIONS
# (default 256), BENCH_NO_BUILD=1 to reuse release binaries. Only 127.0.0.1 is contacted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server
# Each run sends callbacks about rows of its own, so that every one is recorded (a duplicate
# would cost less): 3 runs of 4 s need rows for what 4 s carry at the highest rate.
rows="${BENCH_HOOKS_ROWS:-600000}"
duration="${BENCH_HOOKS_DURATION:-4}"
connections="${BENCH_HOOKS_CONNECTIONS:-256}"
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet --workspace --bins >&2
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release"
if ! "$bin/wacast-worker" --help 2>/dev/null | grep -q -- '--hooks-addr'; then
    echo "bench-hooks: this wacast-worker has no --hooks-addr (callbacks not merged): no figure" >&2
    exit 0
fi
workspace=3f7a1c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b
channel=5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b
signing_key=bench-bird-signing-key

workdir="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    stop_throwaway_redis "$workdir/redis"
    rm -rf "$workdir"
}
trap cleanup EXIT

redis_port="$(start_throwaway_redis "$workdir/redis")"
redis_url="redis://127.0.0.1:$redis_port"

"$bin/mock-gateway" --port 0 >"$workdir/gateway.out" 2>"$workdir/gateway.err" &
pids+=($!)
gateway=""
for _ in $(seq 100); do
    gateway="$(sed -n 's/^listening on //p' "$workdir/gateway.out" 2>/dev/null | head -1)"
    [[ -n "$gateway" ]] && break
    sleep 0.05
done
[[ -n "$gateway" ]] || { cat "$workdir/gateway.err" >&2; exit 1; }

{
    echo "phone,name"
    for ((row = 1; row <= rows; row++)); do printf '+49176%08d,Customer %d\n' "$row" "$row"; done
} >"$workdir/rows.csv"
"$bin/wacast" enqueue --redis-url "$redis_url" --prefix bench --csv "$workdir/rows.csv" \
    --from 4915112345678 --provider bird --workspace "$workspace" --channel "$channel" --text 'Hi {{name}}' \
    --id hooks --format json --quiet --rejects /dev/null >/dev/null

hooks_port="$(free_port)"
hooks_url="http://127.0.0.1:$hooks_port"
printf '%s' "$signing_key" >"$workdir/bird-signing-key"
env -u WACAST_HOOKS_ADDR BIRD_ACCESS_KEY=test-bird-key RUST_LOG=warn \
    "$bin/wacast-worker" --redis-url "$redis_url" --prefix bench \
    --bird-base-url "http://$gateway" --default-rate unlimited \
    --hooks-addr "127.0.0.1:$hooks_port" --hooks-public-url "$hooks_url" \
    --bird-signing-key-file "$workdir/bird-signing-key" 2>"$workdir/worker.log" &
worker=$!
pids+=($worker)

echo "bench-hooks: sending $rows Bird messages through the mock" >&2
for _ in $(seq 6000); do
    [[ "$(redis-cli -p "$redis_port" HGET bench:campaign:hooks state)" == completed ]] && break
    kill -0 "$worker" 2>/dev/null || { tail -n 20 "$workdir/worker.log" >&2; exit 1; }
    sleep 0.1
done
[[ "$(redis-cli -p "$redis_port" HGET bench:campaign:hooks state)" == completed ]] || {
    echo "bench-hooks: the campaign did not complete" >&2; exit 1; }

# Each row's Bird message id, in row order, for the callbacks to name (one script call).
redis-cli -p "$redis_port" --raw EVAL "local out = {} for i = 1, tonumber(ARGV[2]) do
  out[i] = redis.call('HGET', ARGV[1] .. i, 'provider_id') or '' end return out" \
    0 bench:campaign:hooks:msg: "$rows" >"$workdir/provider-ids"

results=()
per_run=$((rows / 3))
for run in 1 2 3; do
    line="$("$bin/loadgen" --mode hooks --url "$hooks_url" --connections "$connections" \
        --duration "$duration" --campaign hooks --rows "$per_run" \
        --first-row $(((run - 1) * per_run + 1)) --bird-signing-key "$signing_key" \
        --provider-ids "$workdir/provider-ids")"
    echo "bench-hooks: run $run: $line" >&2
    results+=("$(awk '{print $1}' <<<"$line")")
done
delivered="$(redis-cli -p "$redis_port" HGET bench:campaign:hooks delivered)"
echo "bench-hooks: campaign counter delivered = ${delivered:-0} of $rows rows (each callback recorded once: it should equal the ok requests above while no run wraps around its rows)" >&2
median="$(printf '%s\n' "${results[@]}" | sort -n | sed -n 2p)"
echo "hooks_per_s $median req/s"
