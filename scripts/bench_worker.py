#!/usr/bin/env python3
"""Sending figures of wacast-worker, measured with release binaries against a throwaway
redis-server and mock-gateway on 127.0.0.1. Prints one line per figure on stdout:

  send_msgs_per_s_0ms <n> msgs/s          one worker, mock at 0 ms, no rate limit
  send_msgs_per_s_20ms <n> msgs/s         mock at 20 ms, concurrency 512
  send_msgs_per_s_durable_replica <n> msgs/s   as _0ms, with one replica and --replicas 1
  send_msgs_per_s_volatile <n> msgs/s     as _0ms on a Redis that keeps nothing on disk
                                          (--durability relaxed): the cost's baseline
  durability_cost_pct <n> %               1 - _0ms / _volatile: what appendfsync always costs
  durability_replica_cost_pct <n> %       1 - _durable_replica / _volatile
  replica_cpu_ms_per_1k_msgs <n> ms       the replica's redis-server CPU in the replica run
  replica_cpu_share_pct <n> %             its share of the CPU every process of that run used
                                          (worker, primary, replica, gateway): on this machine
                                          the replica shares the two cores with all of them

Redis runs durable in every other figure (`appendonly yes`, `appendfsync always`, on disk), as
the worker requires by default.
  worker_cpu_ms_per_1k_msgs <n> ms        worker CPU (user+sys) per 1,000 messages, 0 ms run
  rate_precision <n> ratio                sender at 80/s: max sliding 1 s window / 80
  rate_mean_error_pct <n> %               |mean rate - 80| / 80
  schedule_lateness_first_ms <n> ms       10,000 due at T: first accepted at the gateway - T
  schedule_lateness_p50_ms <n> ms
  schedule_lateness_p99_ms <n> ms

Each figure is the median of BENCH_WORKER_RUNS runs (default 3). Everything else goes to
stderr. Usage: bench_worker.py TARGET_DIR [worker|fleet]

Mode `fleet` prints instead (three worker processes, one sender at BENCH_FLEET_RATE (60) per
second set with `wacast rate set`, BENCH_FLEET_MESSAGES (3,000) messages):

  fleet_rate_precision <n> ratio          max messages in any sliding 1 s window / rate
  fleet_mean_rate_error_pct <n> %         |mean rate - rate| / rate, first to last accept
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1]
RUNS = int(os.environ.get("BENCH_WORKER_RUNS", "3"))
N_THROUGHPUT = int(os.environ.get("BENCH_WORKER_MESSAGES", "100000"))
SENDER = "4915112345678"
TICKS = os.sysconf("SC_CLK_TCK")


def log(*args):
    print("bench-worker:", *args, file=sys.stderr, flush=True)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A durable redis-server, as the worker requires (`appendfsync always`: every write is on
    disk before Redis answers; its data on the work dir's disk, not tmpfs, so the figure
    includes the fsync); with `replica_of`, a replica of that one."""

    def __init__(self, workdir, replica_of=None, volatile=False):
        self.port = free_port()
        self.dir = os.path.join(workdir, f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        replica = ["--replicaof", "127.0.0.1", str(replica_of.port)] if replica_of else []
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", *(["--appendonly", "no"] if volatile else
                             ["--appendonly", "yes", "--appendfsync", "always"]), *replica],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if self.cli("PING") == "PONG":
                break
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}"
        # A replica answers PING before its first sync is done; until then no WAIT is
        # acknowledged, and the first batch of marks would wait out its 2 s inside the
        # measured run. A production replica is in sync before a campaign starts.
        for _ in range(400):
            if not replica_of or "master_link_status:up" in self.cli("INFO", "replication"):
                break
            time.sleep(0.05)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                             capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Gateway:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [f"{BIN}/mock-gateway", "--port", "0", "--keep-messages", "20000", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        self.url = "http://" + line[len("listening on "):]

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.load(r)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("phone,name,order_id\n")
        for i in range(rows):
            f.write(f"+49151{i:08d},Customer {i},ORD-{i}\n")


def enqueue(redis, prefix, csv, campaign, *extra):
    subprocess.run(
        [f"{BIN}/wacast", "enqueue", "--csv", csv, "--from", SENDER, "--template",
         "order_confirmation", "--language", "de", "--body", "name,order_id", "--button",
         "order_id", "--id", campaign, "--redis-url", redis.url, "--prefix", prefix,
         "--format", "json", "--rejects", os.devnull, *extra],
        check=True, stdout=subprocess.DEVNULL)


def start_worker(redis, prefix, gateway, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACAST_")}
    env.update(SEVEN_API_KEY="test-key", RUST_LOG="warn")
    return subprocess.Popen(
        [f"{BIN}/wacast-worker", "--redis-url", redis.url, "--prefix", prefix,
         "--seven-base-url", gateway.url, *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS


def wait_completed(redis, prefix, campaign, timeout=600):
    key = f"{prefix}:campaign:{campaign}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if redis.cli("HGET", key, "state") == "completed":
            return
        time.sleep(0.02)
    raise SystemExit(f"campaign {campaign} did not complete: {redis.cli('HGETALL', key)}")


def throughput(workdir, latency_ms, concurrency, run, replica=False, volatile=False):
    redis = Redis(workdir, volatile=volatile)
    # With a replica, the worker waits for it to acknowledge every batch of marks (WAIT 1).
    replica = Redis(workdir, replica_of=redis) if replica else None
    replicas = ["--replicas", "1"] if replica else []
    if volatile:
        replicas = ["--durability", "relaxed"]
    gateway = Gateway("--latency", str(latency_ms)) if latency_ms else Gateway()
    try:
        csv = os.path.join(workdir, "throughput.csv")
        if not os.path.exists(csv):
            write_csv(csv, N_THROUGHPUT)
        campaign = f"t{latency_ms}-{run}"
        enqueue(redis, "bench", csv, campaign)
        # The CPU every process of the run spends on the sends, per 1,000 messages: on this
        # machine's two cores a replica's CPU is taken from the worker, the gateway and the
        # primary, where a production replica runs on a host of its own.
        servers = {"primary": redis.proc, "gateway": gateway.proc}
        if replica:
            servers["replica"] = replica.proc
        before = {name: cpu_ms(proc.pid) for name, proc in servers.items()}
        start = time.time()
        worker = start_worker(redis, "bench", gateway, "--concurrency", str(concurrency),
                              "--default-rate", "unlimited", *replicas)
        wait_completed(redis, "bench", campaign)
        elapsed = time.time() - start
        per_1k = N_THROUGHPUT / 1000
        cpus = {name: (cpu_ms(proc.pid) - before[name]) / per_1k
                for name, proc in servers.items()}
        cpus["worker"] = cpu_ms(worker.pid) / per_1k
        worker.terminate()
        worker.wait()
        sent = int(redis.cli("HGET", f"bench:campaign:{campaign}", "sent"))
        assert sent == N_THROUGHPUT, f"only {sent} of {N_THROUGHPUT} sent"
        rate = N_THROUGHPUT / elapsed
        log(f"{latency_ms} ms, concurrency {concurrency}{', 1 replica' if replica else ''}"
            f"{', volatile' if volatile else ''}: {rate:.0f} msgs/s, cpu per 1,000 msgs "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in cpus.items()))
        return rate, cpus["worker"], cpus
    finally:
        gateway.stop()
        if replica:
            replica.stop()
        redis.stop()


def rate_precision(workdir, run):
    redis = Redis(workdir)
    gateway = Gateway()
    try:
        csv = os.path.join(workdir, "rate.csv")
        write_csv(csv, 2400)
        campaign = f"rate-{run}"
        enqueue(redis, "bench", csv, campaign)
        worker = start_worker(redis, "bench", gateway, "--rate", f"{SENDER}=80")
        wait_completed(redis, "bench", campaign)
        worker.terminate()
        worker.wait()
        stats = gateway.get("/stats")
        sender = stats["senders"][SENDER]
        span = (stats["last_accept_at_ms"] - stats["first_accept_at_ms"]) / 1000
        mean = (sender["accepted"] - 1) / span
        ratio = sender["max_per_second_sliding"] / 80
        log(f"rate: max sliding window {sender['max_per_second_sliding']}, mean {mean:.2f}/s")
        return ratio, abs(mean - 80) / 80 * 100
    finally:
        gateway.stop()
        redis.stop()


def lateness(workdir, run):
    redis = Redis(workdir)
    gateway = Gateway()
    try:
        csv = os.path.join(workdir, "late.csv")
        write_csv(csv, 10000)
        campaign = f"late-{run}"
        due = int(time.time()) + 6
        worker = start_worker(redis, "bench", gateway, "--concurrency", "512",
                              "--default-rate", "unlimited")
        enqueue(redis, "bench", csv, campaign, "--delay", str(due))
        wait_completed(redis, "bench", campaign)
        worker.terminate()
        worker.wait()
        accepted = sorted(m["accepted_at_ms"] - due * 1000
                          for m in gateway.get("/messages")["messages"])
        assert len(accepted) == 10000, len(accepted)
        p50 = accepted[len(accepted) // 2]
        p99 = accepted[int(len(accepted) * 0.99)]
        log(f"lateness: first {accepted[0]} ms, p50 {p50} ms, p99 {p99} ms")
        return accepted[0], p50, p99
    finally:
        gateway.stop()
        redis.stop()


def fleet(workdir):
    rate = int(os.environ.get("BENCH_FLEET_RATE", "60"))
    n = int(os.environ.get("BENCH_FLEET_MESSAGES", "3000"))
    redis = Redis(workdir)
    gateway = Gateway()
    workers = []
    try:
        csv = os.path.join(workdir, "fleet.csv")
        write_csv(csv, n)
        subprocess.run([f"{BIN}/wacast", "rate", "set", SENDER, str(rate), "--redis-url",
                        redis.url, "--prefix", "bench"], check=True, stdout=subprocess.DEVNULL)
        enqueue(redis, "bench", csv, "fleet")
        # Each worker's own default would allow far more: the fleet's rate is the one in Redis.
        workers = [start_worker(redis, "bench", gateway, "--default-rate", "unlimited")
                   for _ in range(3)]
        wait_completed(redis, "bench", "fleet")
        stats = gateway.get("/stats")
        sender = stats["senders"][SENDER]
        assert sender["accepted"] == n, sender["accepted"]
        span = (stats["last_accept_at_ms"] - stats["first_accept_at_ms"]) / 1000
        mean = (n - 1) / span
        log(f"fleet: 3 workers, max sliding window {sender['max_per_second_sliding']}, "
            f"mean {mean:.2f}/s over {span:.1f} s")
        return [
            ("fleet_rate_precision", round(sender["max_per_second_sliding"] / rate, 3), "ratio"),
            ("fleet_mean_rate_error_pct", round(abs(mean - rate) / rate * 100, 2), "%"),
        ]
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait()
        gateway.stop()
        redis.stop()


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "fleet":
        with tempfile.TemporaryDirectory() as workdir:
            for name, value, unit in fleet(workdir):
                print(name, value, unit, flush=True)
        return
    figures = {}
    with tempfile.TemporaryDirectory() as workdir:
        # The three runs a cost compares go one after the other in each round, so that the
        # machine's speed, which drifts over minutes, weighs on all three alike.
        zero, replica, volatile = [], [], []
        for r in range(RUNS):
            volatile.append(throughput(workdir, 0, 256, r, volatile=True))
            zero.append(throughput(workdir, 0, 256, r))
            replica.append(throughput(workdir, 0, 256, r, replica=True))
        twenty = [throughput(workdir, 20, 512, r) for r in range(RUNS)]
        rates = [rate_precision(workdir, r) for r in range(RUNS)]
        late = [lateness(workdir, r) for r in range(RUNS)]
    med = statistics.median
    base = med(r for r, *_ in volatile)
    figures = [
        ("send_msgs_per_s_0ms", round(med(r for r, *_ in zero)), "msgs/s"),
        ("send_msgs_per_s_20ms", round(med(r for r, *_ in twenty)), "msgs/s"),
        ("send_msgs_per_s_durable_replica", round(med(r for r, *_ in replica)), "msgs/s"),
        ("send_msgs_per_s_volatile", round(base), "msgs/s"),
        ("durability_cost_pct", round(100 * (1 - med(r for r, *_ in zero) / base), 1), "%"),
        ("durability_replica_cost_pct", round(100 * (1 - med(r for r, *_ in replica) / base), 1),
         "%"),
        ("replica_cpu_ms_per_1k_msgs", round(med(c["replica"] for *_, c in replica), 1), "ms"),
        ("replica_cpu_share_pct", round(med(100 * c["replica"] / sum(c.values())
                                            for *_, c in replica), 1), "%"),
        ("worker_cpu_ms_per_1k_msgs", round(med(c for _, c, _ in zero), 1), "ms"),
        ("rate_precision", round(med(r for r, _ in rates), 3), "ratio"),
        ("rate_mean_error_pct", round(med(e for _, e in rates), 2), "%"),
        ("schedule_lateness_first_ms", round(med(f for f, _, _ in late)), "ms"),
        ("schedule_lateness_p50_ms", round(med(p for _, p, _ in late)), "ms"),
        ("schedule_lateness_p99_ms", round(med(p for _, _, p in late)), "ms"),
    ]
    for name, value, unit in figures:
        print(name, value, unit, flush=True)


if __name__ == "__main__":
    main()
