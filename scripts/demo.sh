#!/usr/bin/env bash
# The whole job on local defaults: Redis (127.0.0.1:6379, started if none answers), the mock
# gateway standing in for seven, the sample CSV enqueued as a template campaign, one worker
# until the campaign completes, then its status and the redis-cli commands to inspect it.
# The worker also receives the mock's signed delivery callbacks (delivered, 60% read, 10%
# replies, some of them STOP) on its hooks listener, so the status shows the funnel filling up.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

REDIS_PORT=${WACAST_DEMO_REDIS_PORT:-6379}
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
PREFIX=${WACAST_DEMO_PREFIX:-wacast}
SENDER=4915112345678
SIGNING_KEY=demo-seven-signing-key
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building wacast"
cargo build --quiet --bins
bin=${CARGO_TARGET_DIR:-target}/debug

step "Redis on 127.0.0.1:$REDIS_PORT"
ensure_redis_server
# The worker refuses a Redis that could lose a `sending` mark (--durability strict). The Redis a
# development machine runs on 6379 usually keeps nothing on disk: rather than relax the check or
# reconfigure that Redis, the demo then starts a durable one of its own on a free port.
durable() {
  [ "$(redis-cli -p "$1" CONFIG GET appendonly 2>/dev/null | tail -1)" = yes ] \
    && [ "$(redis-cli -p "$1" CONFIG GET appendfsync 2>/dev/null | tail -1)" = always ]
}
if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && durable "$REDIS_PORT"; then
  echo "using the Redis that answers on port $REDIS_PORT (appendonly yes, appendfsync always)"
else
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "the Redis on port $REDIS_PORT is not durable (appendfsync always), which the worker requires"
    REDIS_PORT=$(free_port)
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  fi
  echo "starting one on port $REDIS_PORT (appendonly yes, appendfsync always, data in /tmp/wacast-demo-redis-$REDIS_PORT)"
  mkdir -p "/tmp/wacast-demo-redis-$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "/tmp/wacast-demo-redis-$REDIS_PORT" \
    --appendonly yes --appendfsync always --daemonize yes \
    --logfile "/tmp/wacast-demo-redis-$REDIS_PORT/redis.log" >/dev/null
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
fi

# The worker's hooks listener, where the mock sends its callbacks (when this worker has one).
hooks=()
callbacks=()
if "$bin/wacast-worker" --help 2>/dev/null | grep -q -- '--hooks-addr'; then
  hooks_url="http://127.0.0.1:$(free_port)"
  printf '%s' "$SIGNING_KEY" >"$work/seven-signing-key"
  hooks=(--hooks-addr "${hooks_url#http://}" --hooks-public-url "$hooks_url"
    --seven-signing-key-file "$work/seven-signing-key")
  callbacks=(--callback-url "$hooks_url" --seven-signing-key "$SIGNING_KEY" --callback-delay 1s
    --read-share 0.6 --reply-share 0.1 --stop-share 0.02)
fi

step "Mock gateway (seven's API on loopback${callbacks:+, callbacks to $hooks_url})"
"$bin/mock-gateway" --port 0 --api-key demo-key --senders "$SENDER" "${callbacks[@]}" \
  >"$work/gateway.out" 2>"$work/gateway.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^listening on' "$work/gateway.out" 2>/dev/null && break; sleep 0.05; done
gateway=$(sed -n 's/^listening on //p' "$work/gateway.out" | head -1)
[ -n "$gateway" ] || { cat "$work/gateway.err" >&2; exit 1; }
echo "mock gateway at http://$gateway"

step "Enqueue examples/recipients.csv as template order_confirmation"
campaign="demo-$(date +%Y%m%d-%H%M%S)"
set +e
"$bin/wacast" enqueue --redis-url "$REDIS_URL" --prefix "$PREFIX" \
  --csv examples/recipients.csv --from "$SENDER" --region DE \
  --template order_confirmation --language de --body name,order_id --button order_id \
  --templates examples/templates.toml --label demo --id "$campaign" \
  --rejects "$work/rejects.csv"
code=$?
set -e
[ "$code" -le 1 ] || exit "$code"
if [ "$(wc -l < "$work/rejects.csv")" -gt 1 ]; then
  echo; echo "rejected rows ($work/rejects.csv):"; cat "$work/rejects.csv"
fi

step "One worker until the campaign completes"
SEVEN_API_KEY=demo-key "$bin/wacast-worker" --redis-url "$REDIS_URL" --prefix "$PREFIX" \
  --seven-base-url "http://$gateway" --default-rate 20:5 "${hooks[@]}" 2>"$work/worker.log" &
worker=$!
pids+=($worker)
for _ in $(seq 1 600); do
  state=$(redis-cli -p "$REDIS_PORT" HGET "$PREFIX:campaign:$campaign" state)
  [ "$state" = completed ] && break
  sleep 0.1
done
if [ ${#callbacks[@]} -gt 0 ]; then
  echo "waiting for the delivery callbacks (delivered, read, replies)"
  for _ in $(seq 1 300); do
    pending=$(curl -s "http://$gateway/stats?summary=true" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["callbacks"]["pending"])' 2>/dev/null || echo 1)
    [ "$pending" = 0 ] && break
    sleep 0.1
  done
fi
kill -TERM "$worker"; wait "$worker" || true
echo "worker log (last lines):"; tail -n 3 "$work/worker.log"

step "Status"
if "$bin/wacast" status --help >/dev/null 2>&1; then
  "$bin/wacast" status "$campaign" --redis-url "$REDIS_URL" --prefix "$PREFIX"
else
  redis-cli -p "$REDIS_PORT" HGETALL "$PREFIX:campaign:$campaign" | paste - -
fi

step "At the gateway"
curl -s "http://$gateway/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print({k: s[k] for k in s if not isinstance(s[k], (dict, list))})' 2>/dev/null || true
if [ ${#callbacks[@]} -gt 0 ]; then
  echo "callbacks the worker acknowledged:"
  curl -s "http://$gateway/stats?summary=true" | python3 -c 'import json,sys; print(json.load(sys.stdin)["callbacks"]["acknowledged"])' 2>/dev/null || true
fi

step "Inspect it yourself"
cat <<MSG
redis-cli -p $REDIS_PORT HGETALL $PREFIX:campaign:$campaign
redis-cli -p $REDIS_PORT HGETALL $PREFIX:campaign:$campaign:msg:1
redis-cli -p $REDIS_PORT ZCARD $PREFIX:due
redis-cli -p $REDIS_PORT SMEMBERS $PREFIX:campaign:$campaign:failed
redis-cli -p $REDIS_PORT --scan --pattern '$PREFIX:campaign:$campaign:msg:*' | head
MSG
