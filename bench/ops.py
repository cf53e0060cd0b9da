"""
A short mixed load against one daphne process, then a scrape of /metrics:
cache hit rate, database pool use, error rate and p95 as the site itself
counts them, beside the client's own p95 and the search page's size plain,
gzip and brotli.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        flock -x /tmp/nb-bench.lock python -m bench.ops --seconds 60 --clients 8

The database needs listings (`manage.py seed_demo` is enough).
"""

import argparse
import os
import random
import re
import secrets
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.harness import (
    app_environment,
    daphne_server,
    free_port,
    percentile,
    require_backends,
)

PATHS = [
    ("/", 2),
    ("/rent/", 4),
    ("/rent/?rent_max=20000", 3),
    ("/rent/?rent_max=40000&bedrooms=2", 2),
    ("/healthz", 1),
    ("/does-not-exist/", 1),
]


def fetch(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def scrape(base, token):
    _, body, _ = fetch(base + "/metrics", {"Authorization": f"Bearer {token}"})
    return body.decode()


def total(text, name, **labels):
    value = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            value += float(line.rsplit(" ", 1)[1])
    return value


def histogram_p95(text, name):
    buckets = {}
    for line in text.splitlines():
        match = re.match(rf'{name}_bucket\{{.*le="([^"]+)".*\}} (\S+)', line)
        if match:
            le = float("inf") if match[1] == "+Inf" else float(match[1])
            buckets[le] = buckets.get(le, 0.0) + float(match[2])
    if not buckets:
        return None
    count = buckets[float("inf")]
    for le in sorted(buckets):
        if buckets[le] >= 0.95 * count:
            return le
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    require_backends()
    token = secrets.token_urlsafe(16)
    env = app_environment()
    env["METRICS_TOKEN"] = token
    env.setdefault("RATELIMIT_ENABLE", "0")
    import subprocess
    import sys

    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        env=env,
        check=True,
    )
    port = free_port(9450)
    log = Path(tempfile.mkdtemp(prefix="nb-ops-")) / "daphne.log"
    with daphne_server(port, log, env=env) as base:
        sizes = {}
        for name, encoding in (
            ("plain", "identity"),
            ("gzip", "gzip"),
            ("brotli", "br"),
        ):
            _, body, headers = fetch(base + "/rent/", {"Accept-Encoding": encoding})
            sizes[name] = (len(body), headers.get("Content-Encoding", "-"))
        before = scrape(base, token)
        latencies, statuses, lock = [], {}, threading.Lock()
        stop_at = time.monotonic() + args.seconds
        weighted = [p for p, w in PATHS for _ in range(w)]

        def client():
            rng = random.Random()
            while time.monotonic() < stop_at:
                path = rng.choice(weighted)
                started = time.perf_counter()
                status, _, _ = fetch(base + path, {"Accept-Encoding": "br, gzip"})
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses[status] = statuses.get(status, 0) + 1

        peak = {"in_use": 0.0, "waiting": 0.0}

        def sampler():
            while time.monotonic() < stop_at:
                text = scrape(base, token)
                for key in peak:
                    peak[key] = max(peak[key], total(text, f"nobroker_db_pool_{key}"))
                time.sleep(1)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        threads.append(threading.Thread(target=sampler))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = scrape(base, token)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    hits = delta("nobroker_cache_requests_total", result="hit")
    misses = delta("nobroker_cache_requests_total", result="miss")
    requests = delta("nobroker_http_request_duration_seconds_count")
    errors = sum(
        delta("nobroker_http_request_duration_seconds_count", status=s)
        for s in set(re.findall(r'status="(5\d\d)"', after))
    )
    print(
        f"load: {args.clients} clients, {args.seconds:.0f} s, {len(latencies)} requests, statuses {statuses}"
    )
    print(
        f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    for name, (size, encoding) in sizes.items():
        print(f"search page /rent/ {name}: {size:,} B (Content-Encoding {encoding})")
    print("scraped /metrics:")
    print(
        f"  cache hit rate: {100 * hits / max(hits + misses, 1):.1f} % ({hits:.0f} hits, {misses:.0f} misses)"
    )
    print(
        f"  db pool: size "
        f"{total(after, 'nobroker_db_pool_size'):.0f}, max {total(after, 'nobroker_db_pool_max'):.0f}, "
        f"peak in use {peak['in_use']:.0f}, peak waiting {peak['waiting']:.0f} (scraped each second)"
    )
    print(
        f"  error rate (5xx): {100 * errors / max(requests, 1):.2f} % of {requests:.0f} requests"
    )
    p95 = histogram_p95(after, "nobroker_http_request_duration_seconds")
    print(f"  p95 (histogram bucket, since start): <= {p95} s")
    print(
        f"client p95: {1000 * percentile(latencies, 95):.0f} ms, p50: {1000 * percentile(latencies, 50):.0f} ms"
    )


if __name__ == "__main__":
    main()
