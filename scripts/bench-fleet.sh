#!/usr/bin/env bash
# Fleet figures: three wacast-worker processes sharing one sender's rate (see
# scripts/bench_worker.py, mode `fleet`, for what each line means). Environment:
# BENCH_FLEET_MESSAGES (default 3000), BENCH_FLEET_RATE (default 60), BENCH_NO_BUILD=1.
# Redis runs with `appendfsync always`, as the workers require.
exec "$(dirname "${BASH_SOURCE[0]}")/bench-worker.sh" fleet
