#!/usr/bin/env bash
# The reference issue 4 measures wacast-worker against: BullMQ draining jobs, run here against
# a throwaway redis-server, at the same time as wacast's own figures. The issue's goals were set
# on a machine where BullMQ drained 23,600 no-op jobs/s; on a slower (or busier) machine every
# throughput figure is lower in proportion, so bench.sh reads the speed figures against this
# one too (`machine_speed_vs_issue`, see bench.sh).
#
# Needs node and npm (Debian's nodejs and npm, or any node >= 18); installs BullMQ with
# `npm install` (the versions of scripts/reference/bullmq/package-lock.json) on first use.
# Environment: BENCH_REFERENCE_JOBS (default 100000), BENCH_REFERENCE_RUNS (default 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
ensure_redis_server
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bench-reference: skipped: node and npm are needed (apt-get install -y nodejs npm)" >&2
    exit 0
fi
dir=scripts/reference/bullmq
if [[ ! -d "$dir/node_modules/bullmq" ]]; then
    (cd "$dir" && npm install --silent --no-audit --no-fund) >&2
fi
work="$(mktemp -d)"
trap 'stop_throwaway_redis "$work/redis"; rm -rf "$work"' EXIT
port="$(start_throwaway_redis "$work/redis")"
export REDIS_PORT="$port" N="${BENCH_REFERENCE_JOBS:-100000}"
runs="${BENCH_REFERENCE_RUNS:-3}"

# The median of a figure over the runs: `median NAME FILE`.
median() {
    grep "^$1 " "$2" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
for mode in noop sleep20; do
    for _ in $(seq "$runs"); do
        node "$dir/bench.js" "$mode" | tee -a "$work/$mode" | sed 's/^/bench-reference: /' >&2
    done
done
noop="$(median bullmq_noop_jobs_per_s "$work/noop")"
echo "bullmq_noop_jobs_per_s $noop jobs/s"
echo "bullmq_noop_worker_cpu_ms_per_1k_jobs $(median bullmq_noop_worker_cpu_ms_per_1k_jobs "$work/noop") ms"
echo "bullmq_sleep20_jobs_per_s $(median bullmq_sleep20_jobs_per_s "$work/sleep20") jobs/s"
# This machine's speed against the one the issue measured BullMQ on (23,600 no-op jobs/s).
python3 -c "print('machine_speed_vs_issue', round($noop / 23600, 3), 'ratio')"
