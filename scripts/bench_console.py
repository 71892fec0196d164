#!/usr/bin/env python3
"""The console's figures, measured over HTTP against a running `wacast serve` (bench-console.sh
starts it, with Redis seeded). Standard library only.

  bench_console.py pages BASE TOKEN CAMPAIGN N     campaign page and list: p50/p99 in ms
  bench_console.py upload BASE TOKEN CSV ROWS       the upload as the browser form posts it

Prints `name value unit` lines on stdout, details on stderr. Times are taken on a kept-alive
loopback connection from the request's first byte written to the answer's last byte read: the
server's time plus a loopback round trip (tens of microseconds).
"""
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import uuid


class Console:
    def __init__(self, base, token):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        self.cookie = ""
        answer = self.request("POST", "/login", body=urllib.parse.urlencode({"token": token, "next": "/"}),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        if answer[0] != 303 or not self.cookie:
            sys.exit(f"bench-console: login failed: HTTP {answer[0]}")

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data, response.getheader("Location")

    def timed(self, path, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            status, data, _ = self.request("GET", path)
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                sys.exit(f"bench-console: GET {path}: HTTP {status}: {data[:300]!r}")
        times.sort()
        return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], len(data)

    def csrf(self):
        status, data, _ = self.request("GET", "/campaigns/new")
        found = re.search(rb'action="/campaigns/new\?csrf=([^"&]+)"', data)
        if status != 200 or not found:
            sys.exit(f"bench-console: no upload form (HTTP {status})")
        return found.group(1).decode()


def pages(base, token, campaign, n):
    console = Console(base, token)
    p50, p99, size = console.timed(f"/campaigns/{campaign}", n)
    print(f"bench-console: campaign page ({size} bytes): p50 {p50:.1f} ms, p99 {p99:.1f} ms over {n}",
          file=sys.stderr)
    print(f"console_campaign_page_ms {p99:.1f} ms_p99")
    print(f"console_campaign_page_p50_ms {p50:.1f} ms")
    p50, p99, size = console.timed("/", n)
    print(f"bench-console: campaigns list ({size} bytes): p50 {p50:.1f} ms, p99 {p99:.1f} ms over {n}",
          file=sys.stderr)
    print(f"console_list_ms {p99:.1f} ms_p99")
    print(f"console_list_p50_ms {p50:.1f} ms")


def upload(base, token, csv, rows):
    console = Console(base, token)
    token = urllib.parse.unquote(console.csrf())
    boundary = "----wacast" + uuid.uuid4().hex
    fields = {"from": "4915112345678", "kind": "template", "template": "order_confirmation|de",
              "body": "name,order_id", "button": "order_id", "tz": "UTC", "ttl": "2880"}
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="csv"; filename="bench.csv"\r\n'
             f"Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.path.getsize(csv)

    def body():
        yield head
        with open(csv, "rb") as f:
            while chunk := f.read(256 * 1024):
                yield chunk
        yield tail

    start = time.perf_counter()
    status, data, location = console.request(
        "POST", f"/campaigns/new?csrf={urllib.parse.quote(token)}", body=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                 "Content-Length": str(len(head) + size + len(tail))})
    checked = time.perf_counter() - start
    if status != 303 or not location:
        sys.exit(f"bench-console: upload: HTTP {status}: {data[:500]!r}")
    status, data, _ = console.request("GET", location)
    accepted = re.search(rb'id="dry-accepted">(\d+)<', data)
    if not accepted or int(accepted.group(1)) != rows:
        sys.exit(f"bench-console: the dry run does not accept every row: {data[:2000]!r}")
    start = time.perf_counter()
    status, data, progress = console.request(
        "POST", f"{location}/enqueue", body=urllib.parse.urlencode({"csrf": token}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 303:
        sys.exit(f"bench-console: enqueue: HTTP {status}: {data[:500]!r}")
    while True:
        status, data, _ = console.request("GET", f"{progress}.json")
        state = json.loads(data)
        if state["state"] != "running":
            break
        time.sleep(0.05)
    enqueued = time.perf_counter() - start
    if state["state"] != "done" or state["enqueued"] != rows:
        sys.exit(f"bench-console: the enqueue did not finish: {state}")
    print(f"bench-console: {rows} rows ({size / 1e6:.0f} MB): upload + dry run {checked:.2f} s, "
          f"enqueue {enqueued:.2f} s", file=sys.stderr)
    print(f"console_upload_rows_per_s {rows / checked:.0f} rows/s")
    print(f"console_enqueue_rows_per_s {rows / enqueued:.0f} rows/s")
    print(f"console_upload_to_queue_rows_per_s {rows / (checked + enqueued):.0f} rows/s")


if __name__ == "__main__":
    what, base, token = sys.argv[1:4]
    if what == "pages":
        pages(base, token, sys.argv[4], int(sys.argv[5]))
    elif what == "upload":
        upload(base, token, sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(f"bench_console.py: unknown measurement {what}")
