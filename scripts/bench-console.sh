#!/usr/bin/env bash
# The console's figures (`wacast serve`, issue 16), against a fresh throwaway redis-server:
#
#   console_campaign_page_ms <n> ms_p99     a 1,000,000-row campaign's page, p99 of N requests
#   console_list_ms <n> ms_p99              the campaigns list with 10,000 campaigns, p99
#   console_rss_mb <n> MB                   the console's resident memory after the pages and the upload
#   console_upload_rows_per_s <n> rows/s    a 1,000,000-row CSV posted as the browser's form posts
#                                           it, streamed to disk and dry-run (every row checked)
#   console_enqueue_rows_per_s, console_upload_to_queue_rows_per_s: the enqueue that follows,
#   and the whole way from the upload to every row queued; p50s and the peak RSS too.
#
# The big campaign is enqueued with `wacast enqueue`; the other 9,999 campaigns are copies of a
# small one's hash made by one Lua call (the list reads campaign hashes, not their messages).
#
# Environment: BENCH_CONSOLE_ROWS (default 1000000), BENCH_CONSOLE_REQUESTS (default 200),
# BENCH_NO_BUILD=1 to reuse the release binary, CARGO_TARGET_DIR as cargo reads it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server

rows="${BENCH_CONSOLE_ROWS:-1000000}"
requests="${BENCH_CONSOLE_REQUESTS:-200}"
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet -p wacast-producer --bin wacast >&2
fi
wacast="${CARGO_TARGET_DIR:-$root/target}/release/wacast"

workdir="$(mktemp -d)"
serve_pid=""
cleanup() {
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null || true
    stop_throwaway_redis "$workdir/redis"
    rm -rf "$workdir"
}
trap cleanup EXIT

port="$(start_throwaway_redis "$workdir/redis")"
url="redis://127.0.0.1:$port"
prefix=bench
write_recipients_csv "$workdir/big.csv" "$rows"
cat >"$workdir/templates.toml" <<'EOF'
[[templates]]
name = "order_confirmation"
language = "de"
body = 2
buttons = 1
EOF
template=(--from 4915112345678 --template order_confirmation --language de --body name,order_id
    --button order_id --delay +30d --redis-url "$url" --prefix "$prefix" --quiet)

echo "bench-console: seeding a $rows-row campaign and 10,000 campaigns" >&2
"$wacast" enqueue --csv "$workdir/big.csv" --id big "${template[@]}" \
    --rejects "$workdir/big.rejects.csv" >/dev/null
head -11 "$workdir/big.csv" >"$workdir/small.csv"
"$wacast" enqueue --csv "$workdir/small.csv" --id seed "${template[@]}" \
    --rejects "$workdir/small.rejects.csv" >/dev/null
redis-cli -p "$port" eval "
    local fields = redis.call('HGETALL', KEYS[1])
    local created = tonumber(redis.call('ZSCORE', KEYS[2], 'seed'))
    for i = 1, 9998 do
        local id = string.format('seed-%05d', i)
        local key = ARGV[1] .. ':campaign:' .. id
        redis.call('HSET', key, unpack(fields))
        if redis.call('HEXISTS', key, 'id') == 1 then redis.call('HSET', key, 'id', id) end
        redis.call('ZADD', KEYS[2], created + i, id)
    end
    return redis.call('ZCARD', KEYS[2])" 2 "$prefix:campaign:seed" "$prefix:campaigns" "$prefix" \
    | sed 's/^/bench-console: campaigns in Redis: /' >&2

listen_port="$(free_port)"
token="bench-$(date +%s%N)"
WACAST_CONSOLE_TOKEN="$token" "$wacast" serve --listen "127.0.0.1:$listen_port" \
    --redis-url "$url" --prefix "$prefix" --templates "$workdir/templates.toml" \
    >"$workdir/serve.out" 2>"$workdir/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$listen_port/login" && break
    sleep 0.1
done
base="http://127.0.0.1:$listen_port"

# Resident memory of the console in MB: VmRSS now, or VmHWM (the peak).
rss_mb() {
    awk -v field="$1:" '$1 == field {printf "%.1f", $2 / 1024}' "/proc/$serve_pid/status"
}

python3 scripts/bench_console.py pages "$base" "$token" big "$requests"
python3 scripts/bench_console.py upload "$base" "$token" "$workdir/big.csv" "$rows"
echo "console_rss_mb $(rss_mb VmRSS) MB"
echo "console_peak_rss_mb $(rss_mb VmHWM) MB"
