#!/usr/bin/env bash
# Ingest figures of `wacast enqueue`: a generated CSV of 1,000,000 recipients (phone in E.164,
# name, order_id and five more columns) into a fresh throwaway redis-server, three runs, medians.
# Prints exactly three lines on stdout:
#
#   ingest_rows_per_s <n> rows/s                    rows / wall-clock time of the whole command
#   ingest_peak_rss_mb <n> MB                       maximum resident set size (/usr/bin/time -v)
#   redis_bytes_per_queued_message <n> bytes        (used_memory after - before) / messages
#
# Everything else goes to stderr, with each run's CPU time per row of Redis (INFO cpu) and of
# the producer (/usr/bin/time): unlike wall-clock time, these hardly depend on what else the
# machine is doing, so they are the figures to compare when changing the hot path.
#
# Environment: BENCH_INGEST_ROWS (default 1000000), BENCH_INGEST_RUNS (default 3),
# BENCH_NO_BUILD=1 to reuse the release binary, CARGO_TARGET_DIR as cargo reads it. Only a
# redis-server on 127.0.0.1 that this script starts is contacted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server

rows="${BENCH_INGEST_ROWS:-1000000}"
runs="${BENCH_INGEST_RUNS:-3}"
[[ -x /usr/bin/time ]] || { echo "bench-ingest: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet -p wacast-producer --bin wacast >&2
fi
wacast="${CARGO_TARGET_DIR:-$root/target}/release/wacast"

workdir="$(mktemp -d)"
cleanup() {
    stop_throwaway_redis "$workdir/redis"
    rm -rf "$workdir"
}
trap cleanup EXIT

csv="$workdir/recipients.csv"
write_recipients_csv "$csv" "$rows"
echo "bench-ingest: $(du -h "$csv" | cut -f1) CSV with $rows rows" >&2

# Seconds of CPU the server on port $1 has used (all its threads, user and system).
redis_cpu() {
    redis-cli -p "$1" info cpu | tr -d '\r' \
        | awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" {s += $2} END {print s}'
}

port="$(start_throwaway_redis "$workdir/redis")"
url="redis://127.0.0.1:$port"

rates=()
rss=()
bytes=()
for run in $(seq "$runs"); do
    redis-cli -p "$port" flushall >/dev/null
    before="$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')"
    cpu_before="$(redis_cpu "$port")"
    /usr/bin/time -v -o "$workdir/time.txt" "$wacast" enqueue --csv "$csv" --from 4915112345678 \
        --template order_confirmation --language de --body name,order_id --button order_id \
        --id "bench-$run" --redis-url "$url" --rejects "$workdir/rejects.csv" --format json \
        >"$workdir/summary.json"
    after="$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')"
    cpu_after="$(redis_cpu "$port")"
    python3 - "$workdir/summary.json" "$workdir/time.txt" "$before" "$after" "$cpu_before" "$cpu_after" \
        >"$workdir/run.txt" <<'EOF'
import json, re, sys
summary = json.load(open(sys.argv[1]))
timing = open(sys.argv[2]).read()
before, after = int(sys.argv[3]), int(sys.argv[4])
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", timing)
seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1))
producer_cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", timing).group(1))
                   for kind in ("User", "System"))
redis_cpu = float(sys.argv[6]) - float(sys.argv[5])
queued = summary["enqueued"]
assert queued == summary["rows"], f"expected every row enqueued: {summary}"
rows = summary["rows"]
print(round(rows / seconds), round(rss_kb / 1024, 1), round((after - before) / queued),
      f"{redis_cpu / rows * 1e6:.2f}", f"{producer_cpu / rows * 1e6:.2f}")
EOF
    read -r rate mb per redis_us producer_us <"$workdir/run.txt"
    echo "bench-ingest: run $run: $rate rows/s, peak RSS $mb MB, $per bytes per message in Redis;" \
        "CPU per row: Redis $redis_us µs, producer $producer_us µs" >&2
    rates+=("$rate")
    rss+=("$mb")
    bytes+=("$per")
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "ingest_rows_per_s $(median "${rates[@]}") rows/s"
echo "ingest_peak_rss_mb $(median "${rss[@]}") MB"
echo "redis_bytes_per_queued_message $(median "${bytes[@]}") bytes"
