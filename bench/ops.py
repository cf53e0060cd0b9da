"""
A short mixed load against one daphne process, then a scrape of /metrics:
cache hit rate, database pool use, error rate and p95 as the site itself
counts them, beside the client's own p95 and the search page's size plain,
gzip and brotli.

The load is people browsing: the home page, searches in every locality with
varied rents and bedrooms, listing pages drawn from 2,000 published listings,
now and then a page that does not exist. Each client speaks from its own
loopback addresses in turn (`harness.PEOPLE` of them), so the per-address
rate limits stay on and see many people, as in production.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        flock -x /tmp/nb-bench.lock python -m bench.ops --seconds 60 --clients 8

The database needs listings (`manage.py seed_demo` is enough; the figures in
bench/README.md are at a million, `manage.py seed_bulk`).
"""

import argparse
import http.client
import os
import random
import re
import secrets
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.harness import (
    PEOPLE,
    app_environment,
    daphne_server,
    free_port,
    percentile,
    person_address,
    require_backends,
)


def browsing(database_url: str):
    """A function giving each next path a person asks for, from the database's own listings."""
    import psycopg

    with psycopg.connect(database_url) as db:
        slugs = [row[0] for row in db.execute("SELECT slug FROM listings_locality")]
        ids = [
            row[0]
            for row in db.execute(
                "SELECT id FROM listings_listing TABLESAMPLE SYSTEM (1) "
                "WHERE status = 'published' LIMIT 2000"
            )
        ] or [
            row[0]
            for row in db.execute(
                "SELECT id FROM listings_listing WHERE status = 'published' LIMIT 2000"
            )
        ]

    def next_path(rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.15:
            return "/"
        if roll < 0.55:
            rent = rng.choice((10_000, 20_000, 30_000, 50_000))
            path = f"/rent/?locality={rng.choice(slugs)}&rent_max={rent}"
            if rng.random() < 0.4:
                path += f"&bedrooms={rng.randint(1, 3)}"
            return path
        if roll < 0.95:
            return f"/rent/{rng.choice(ids)}/"
        if roll < 0.97:
            return "/healthz"
        return "/does-not-exist/"

    return next_path


def fetch(url, headers=None, source=None):
    """GET `url` (following one redirect) from the `source` address if given."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parsed.hostname,
        parsed.port,
        timeout=30,
        source_address=(source, 0) if source else None,
    )
    try:
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        location = response.getheader("Location")
        if response.status in (301, 302) and location and location.startswith("/"):
            return fetch(
                f"{parsed.scheme}://{parsed.netloc}{location}", headers, source
            )
        return response.status, body, dict(response.getheaders())
    finally:
        connection.close()


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
    next_path = browsing(env["DATABASE_URL"])
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

        def client(number):
            rng = random.Random(number)
            turn = number
            while time.monotonic() < stop_at:
                path = next_path(rng)
                source = person_address(turn % PEOPLE)
                turn += args.clients
                started = time.perf_counter()
                status, _, _ = fetch(
                    base + path, {"Accept-Encoding": "br, gzip"}, source
                )
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

        threads = [
            threading.Thread(target=client, args=(n,)) for n in range(args.clients)
        ]
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
