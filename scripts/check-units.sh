#!/usr/bin/env bash
# Checks deploy/'s systemd units: `systemd-analyze verify` accepts them without a word (on
# copies whose /usr/local/bin paths point at the built binaries: verify refuses an ExecStart
# that does not exist), `systemd-analyze security` rates every service at an exposure of 2.0
# or lower, deploy/worker.env.example documents every variable the worker reads, and
# scripts/install.sh stages a complete package without touching an existing configuration.
# Called by scripts/test.sh; needs systemd-analyze with --offline (systemd 250 or later).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_systemd_analyze

MAX_EXPOSURE=2.0
# Where cargo put the binaries (CARGO_TARGET_DIR as cargo reads it).
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$(pwd)/$target_dir ;; esac
bin_dir=$target_dir/debug
[ -x "$bin_dir/wacast-worker" ] && [ -x "$bin_dir/wacast" ] \
  || cargo build --quiet -p wacast-worker -p wacast-producer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units_for_analysis "$work" "$bin_dir"

failed=0
echo "== systemd-analyze verify"
# Any message is a finding (verify only warns about an unknown or misspelt setting).
if ! out=$(cd "$work" && systemd-analyze verify --no-pager ./*.service ./*.timer 2>&1) || [ -n "$out" ]; then
  echo "$out"
  echo "FAILED: systemd-analyze verify has findings on deploy/ units" >&2
  failed=1
else
  echo "ok: $(cd "$work" && echo ./*.service ./*.timer)"
fi

echo "== systemd-analyze security (exposure <= $MAX_EXPOSURE)"
for unit in "$work"/*.service; do
  exposure=$(unit_exposure "$unit")
  if [ -z "$exposure" ]; then
    echo "FAILED: systemd-analyze security gave no score for $(basename "$unit") (systemd >= 250 needed for --offline)" >&2
    failed=1
  elif python3 -c "import sys; sys.exit(0 if float('$exposure') <= $MAX_EXPOSURE else 1)"; then
    echo "ok: $(basename "$unit") $exposure"
  else
    systemd-analyze security --offline=true --no-pager "$unit" | grep '✗' || true
    echo "FAILED: $(basename "$unit") has exposure $exposure (> $MAX_EXPOSURE)" >&2
    failed=1
  fi
done

echo "== deploy/worker.env.example documents every worker variable"
vars=$(sed -n '/pub mod env {/,/^}/p' worker/src/config.rs | grep -o '"[A-Z][A-Z0-9_]*"' | tr -d '"')
missing=""
for var in $vars; do
  grep -q "\b$var\b" deploy/worker.env.example || missing="$missing $var"
done
if [ -n "$missing" ]; then
  echo "FAILED: deploy/worker.env.example does not mention:$missing" >&2
  failed=1
else
  echo "ok: $(echo $vars | wc -w) variables"
fi
echo "== scripts/install.sh stages a package (DESTDIR, --prefix) and keeps the configuration"
stage="$work/stage"
DESTDIR="$stage" scripts/install.sh --no-build --bin-dir "$bin_dir" --prefix /opt/wacast >/dev/null
echo "# changed by the operator" >> "$stage/etc/wacast/worker.env"
DESTDIR="$stage" scripts/install.sh --no-build --bin-dir "$bin_dir" --prefix /opt/wacast >/dev/null
problems=""
for file in opt/wacast/bin/wacast opt/wacast/bin/wacast-worker \
    etc/systemd/system/wacast-worker@.service etc/systemd/system/wacast-purge.timer \
    etc/systemd/system/wacast-console.service \
    opt/wacast/share/doc/wacast/README.md etc/wacast/worker.env; do
  [ -e "$stage/$file" ] || problems="$problems missing:$file"
done
grep -q '^ExecStart=/opt/wacast/bin/wacast-worker$' "$stage/etc/systemd/system/wacast-worker@.service" \
  || problems="$problems unit-not-rewritten"
grep -q '^# changed by the operator$' "$stage/etc/wacast/worker.env" || problems="$problems env-overwritten"
[ ! -e "$stage/etc/wacast/seven-api-key" ] || problems="$problems key-created"
if [ -n "$problems" ]; then
  echo "FAILED: install.sh:$problems" >&2
  failed=1
else
  echo "ok"
fi
exit "$failed"
