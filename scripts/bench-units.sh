#!/usr/bin/env bash
# Prints `systemd_exposure <n> score`: the highest `systemd-analyze security` exposure of
# deploy/'s services (0 is the safest, 10 the worst; systemd calls 2.0 or lower "OK").
# A piece of scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_systemd_analyze
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Security does not run the binaries, so their installed paths need not exist here.
units_for_analysis "$work" /usr/local/bin
worst=""
for unit in "$work"/*.service; do
  exposure=$(unit_exposure "$unit")
  [ -n "$exposure" ] || { echo "no exposure score for $(basename "$unit")" >&2; exit 1; }
  echo "# $(basename "$unit") $exposure" >&2
  worst=$(python3 -c "print(max(float('$exposure'), float('${worst:-0}')))")
done
echo "systemd_exposure $worst score"
