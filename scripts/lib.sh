# Shared shell helpers for wacast's scripts. Source it; it changes nothing by itself.

# Installs Debian packages with apt-get (through sudo unless root), with apt-get install's
# arguments: what every ensure_* below does when its tool is missing.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# Installs redis-server with apt when the binary is missing (fresh machines and CI).
ensure_redis_server() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  echo "redis-server is missing: installing it with apt-get" >&2
  apt_install redis-server
}

# Installs libfaketime with apt when it is missing: the end-to-end clock tests run workers whose
# wall clock is faked (LD_PRELOAD) and skip, loudly, without it.
ensure_faketime() {
  if [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]; then
    return 0
  fi
  echo "libfaketime is missing: installing faketime with apt-get" >&2
  apt_install faketime
}

# Installs Prometheus's `promtool` with apt (Debian's `prometheus` package) when it is missing:
# the tests check deploy/prometheus/'s alert rules with it and run their unit tests.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    return 0
  fi
  echo "promtool is missing: installing prometheus with apt-get" >&2
  apt_install --no-install-recommends prometheus
}

# Installs Debian's chromium and chromium-driver with apt when chromedriver is missing: the
# console's real-browser test drives headless chromium through chromedriver (WebDriver).
ensure_chromium() {
  if command -v chromedriver >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  echo "chromium or chromedriver is missing: installing chromium and chromium-driver with apt-get" >&2
  apt_install chromium chromium-driver
}

# Writes a CSV of ROWS recipients to PATH (phone in E.164, name, order_id and five more columns;
# every row valid, numbers unique), as the ingest and console benchmarks upload it.
# Usage: write_recipients_csv PATH ROWS
write_recipients_csv() {
  python3 - "$1" "$2" <<'EOF'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
first = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannes", "Ida", "Jonas"]
last = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
cities = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Leipzig"]
products = ["Kaffeemaschine", "Wasserkocher", "Toaster", "Mixer", "Staubsauger"]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("phone,name,order_id,email,city,zip,product,amount\n")
    for i in range(rows):
        name = f"{first[i % 10]} {last[(i // 10) % 8]}"
        # German mobile numbers +49 151 xxxxxxxx: valid, and unique per row.
        f.write(f"+49151{i:08d},{name},ORD-{1000000 + i},kunde{i}@example.com,"
                f"{cities[i % 7]},{10000 + i % 89999},{products[i % 5]},{(i % 500) + 0.99:.2f}\n")
EOF
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a throwaway redis-server on a free port in DIR; prints its port. It is durable as
# wacast-worker requires by default (`appendonly yes`, `appendfsync always`: a `sending` mark is
# on disk before Redis answers), so figures are measured as production runs.
# Usage: port=$(start_throwaway_redis DIR [extra redis-server args...])
start_throwaway_redis() {
  local dir=$1; shift
  local port
  port=$(free_port)
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" \
    --appendonly yes --appendfsync always \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && { echo "$port"; return 0; }
    sleep 0.05
  done
  echo "redis-server did not start on port $port (see $dir/redis.log)" >&2
  return 1
}

# Stops a redis-server started by start_throwaway_redis in DIR.
stop_throwaway_redis() {
  local dir=$1
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}

# Installs systemd's `systemd-analyze` with apt when it is missing (fresh containers and CI; it
# only analyses unit files here, nothing is started).
ensure_systemd_analyze() {
  if command -v systemd-analyze >/dev/null 2>&1; then
    return 0
  fi
  echo "systemd-analyze is missing: installing systemd with apt-get" >&2
  apt_install --no-install-recommends systemd
}

# Copies deploy/'s units into DIR with /usr/local/bin/ replaced by BIN_DIR (absolute), so that
# `systemd-analyze verify` finds the binaries they run. Usage: units_for_analysis DIR BIN_DIR
units_for_analysis() {
  local dir=$1 bin_dir=$2 unit
  mkdir -p "$dir"
  for unit in deploy/*.service deploy/*.timer; do
    sed "s#/usr/local/bin/#$bin_dir/#g" "$unit" > "$dir/$(basename "$unit")"
  done
}

# Prints the exposure score `systemd-analyze security` gives a unit file (0 safest, 10 worst).
unit_exposure() {
  systemd-analyze security --offline=true --no-pager "$1" 2>&1 \
    | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}

# Installs cargo-deb from crates.io when `cargo deb` is missing (scripts/package.sh builds the
# Debian package with it).
ensure_cargo_deb() {
  if cargo deb --version >/dev/null 2>&1; then
    return 0
  fi
  echo "cargo-deb is missing: installing it with cargo install cargo-deb --locked" >&2
  cargo install --quiet cargo-deb --locked >&2
}

# Installs groff with apt when it is missing: the end-to-end tests check that the man pages
# are roff that groff renders without a warning.
ensure_groff() {
  if command -v groff >/dev/null 2>&1; then
    return 0
  fi
  echo "groff is missing: installing groff-base with apt-get" >&2
  apt_install --no-install-recommends groff-base
}

# Installs the openssl CLI with apt when it is missing: the end-to-end TLS test makes its
# throwaway CA and certificates with it.
ensure_openssl() {
  if command -v openssl >/dev/null 2>&1; then
    return 0
  fi
  echo "openssl is missing: installing it with apt-get" >&2
  apt_install openssl
}
