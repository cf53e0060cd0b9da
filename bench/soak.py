"""
The soak: the layout (deploy/layout.py: nginx, gunicorn, two daphne processes)
under the load kit (bench/locustfile.py) for a bounded time on loopback, with
websocket connect/close churn beside it and the memory of every process
sampled throughout.

    DATABASE_URL=... REDIS_URL=... python -m bench.soak --minutes 10 --users 60

Reports the requests, failures, p50/p95/p99 and rate locust measured, the
websocket sessions opened and failed, and for every process its memory (RSS)
at the start, half-way and the end, and the slope of a straight line fitted
to its samples after the first two minutes and over the second half of the
run (MB per minute); beside RSS, the process's private memory (anonymous
pages: what a leak grows) and the shared memory it has touched (nginx's
shared zones, bounded by their configured size). gunicorn's worker recycling
(max_requests) is off for the soak, so a leak would show. Writes
bench/results/soak.json and the block in bench/README.md.
"""

import argparse
import asyncio
import csv
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    BASE_DIR,
    README,
    RESULTS_DIR,
    app_environment,
    require_backends,
    setup_django,
)
from bench.layout import _port

PASSWORD = "loadkit-Password-2026"
ACCOUNTS = 40
SAMPLE_SECONDS = 10
WARMUP_MINUTES = 2


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--users", type=int, default=60, help="simulated people")
    parser.add_argument("--wait", default="0.5,1.5", help="seconds between actions")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--sockets", type=int, default=20, help="websockets at once")
    parser.add_argument(
        "--socket-life", default="1,5", help="seconds each websocket stays open"
    )
    return parser.parse_args(argv)


def prepare() -> dict:
    """The kit's accounts (tenants of their own) and the listings it visits."""
    from django.core.management import call_command

    from accounts.models import User
    from listings.models import Listing, Locality

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    accounts = []
    for number in range(ACCOUNTS):
        email = f"person{number}@loadkit.example"
        if not User.objects.filter(email=email).exists():
            User.objects.create_user(
                email=email,
                password=PASSWORD,
                full_name=f"Load Kit {number}",
                role="tenant",
                email_verified=True,
            )
        accounts.append(email)
    localities = list(Locality.objects.values_list("slug", flat=True)[:40])
    listings = [
        listing.get_absolute_url()
        for listing in Listing.objects.published().order_by("?")[:2000]
    ]
    return {
        "accounts": accounts,
        "password": PASSWORD,
        "localities": localities,
        "listings": listings,
    }


def _memory_mb(pid: int) -> dict[str, float] | None:
    """The process's resident memory in MB: all of it (RSS), its own
    anonymous pages (what a leak grows) and the shared memory it has touched
    (nginx's shared zones, counted in its RSS as each page is first used)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    found = dict(re.findall(r"^(VmRSS|RssAnon|RssShmem):\s+(\d+) kB", status, re.M))
    if "VmRSS" not in found:
        return None
    return {
        "rss": int(found["VmRSS"]) / 1024,
        "private": int(found.get("RssAnon", 0)) / 1024,
        "shared": int(found.get("RssShmem", 0)) / 1024,
    }


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (minute, MB) points, MB per minute."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if not var:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


def _memory_summary(points: list[tuple[float, float, float, float]]) -> dict:
    """Start, half-way and end of one process's RSS, and the slopes of its RSS
    and of its private memory after the warm-up and over the second half
    (whether it has levelled off once its bounded in-memory copies filled)."""
    middle = points[-1][0] / 2
    later = [p for p in points if p[0] >= WARMUP_MINUTES]
    second_half = [p for p in points if p[0] >= middle]

    def slope(points, column):
        return _slope([(p[0], p[column]) for p in points])

    return {
        "start_mb": points[0][1],
        "middle_mb": second_half[0][1],
        "end_mb": points[-1][1],
        "slope_mb_per_min": slope(later, 1),
        "second_half_slope_mb_per_min": slope(second_half, 1),
        "private_start_mb": points[0][2],
        "private_end_mb": points[-1][2],
        "private_second_half_slope_mb_per_min": slope(second_half, 2),
        "shared_start_mb": points[0][3],
        "shared_end_mb": points[-1][3],
        "samples": points,
    }


class Sampler(threading.Thread):
    def __init__(self, layout):
        super().__init__(daemon=True)
        self.layout = layout
        # (minute, RSS, private, shared), in MB.
        self.samples: dict[str, list[tuple[float, float, float, float]]] = {}
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            minute = (time.monotonic() - self.started) / 60
            for name, pids in self.layout.pids().items():
                for index, pid in enumerate(pids):
                    memory = _memory_mb(pid)
                    if memory is None:
                        continue
                    role = "master" if index == 0 else f"worker {index}"
                    key = f"{name} {role} (pid {pid})"
                    self.samples.setdefault(key, []).append(
                        (minute, memory["rss"], memory["private"], memory["shared"])
                    )
            self.stop.wait(SAMPLE_SECONDS)


async def churn(
    url: str,
    origin: str,
    sockets: int,
    seconds: float,
    counts: dict,
    life: tuple[float, float] = (1, 5),
):
    """Opens and closes websockets all along: `sockets` at once, each open for
    a time between the two of `life` (seconds)."""
    import random

    import websockets

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds

    async def one_at_a_time():
        while time.monotonic() < deadline:
            try:
                async with websockets.connect(
                    url, ssl=context, origin=origin, open_timeout=10
                ) as socket:
                    await socket.send('{"type": "ping"}')
                    reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    if reply != {"type": "pong"}:
                        raise RuntimeError(reply)
                    counts["opened"] += 1
                    await asyncio.sleep(random.uniform(*life))
            except Exception:  # any failure to connect, answer or close counts
                counts["failed"] += 1
                await asyncio.sleep(1)

    await asyncio.gather(*(one_at_a_time() for _ in range(sockets)))


def _locust_summary(prefix: Path) -> dict:
    with open(f"{prefix}_stats.csv") as file:
        rows = list(csv.DictReader(file))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rate": float(total["Requests/s"]),
        "p50": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
        "by_name": {
            row["Name"]: {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p95": float(row["95%"]),
            }
            for row in rows
            if row["Name"] != "Aggregated"
        },
    }


def run(args, data: dict) -> dict:
    from deploy.layout import Layout

    root = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    root.chmod(0o755)
    data_file = root / "loadkit.json"
    data_file.write_text(json.dumps(data))
    env = app_environment()
    env.pop("SERVER_TIMING", None)
    env.update(
        STATIC_ROOT=str(BASE_DIR / "staticfiles"),
        # The kit plays the load balancer too: its X-Forwarded-For, then nginx.
        PROXY_COUNT="2",
        GUNICORN_MAX_REQUESTS="0",
    )
    ports = [_port() for _ in range(5)]
    env["CSRF_TRUSTED_ORIGINS"] = f"https://127.0.0.1:{ports[0]}"
    seconds = args.minutes * 60
    wait_min, wait_max = args.wait.split(",")
    try:
        with Layout(root=root, env=env, ports=ports, workers=args.workers) as layout:
            sampler = Sampler(layout)
            sampler.start()
            counts = {"opened": 0, "failed": 0}
            churner = threading.Thread(
                target=lambda: asyncio.run(
                    churn(
                        f"wss://127.0.0.1:{layout.https_port}/ws/ping/",
                        layout.url,
                        args.sockets,
                        seconds,
                        counts,
                        tuple(float(x) for x in args.socket_life.split(",")),
                    )
                ),
                daemon=True,
            )
            churner.start()
            prefix = root / "locust"
            locust = subprocess.run(  # noqa: S603
                [str(Path(sys.executable).with_name("locust"))]
                + ["-f", str(BASE_DIR / "bench" / "locustfile.py"), "--headless"]
                + ["-u", str(args.users), "-r", "10", "--run-time", f"{int(seconds)}s"]
                + ["--host", layout.url, "--csv", str(prefix), "--only-summary"]
                + ["--stop-timeout", "10", "--loglevel", "WARNING"],
                cwd=BASE_DIR,
                env={
                    **os.environ,
                    "LOADKIT_DATA": str(data_file),
                    "LOADKIT_WAIT_MIN": wait_min,
                    "LOADKIT_WAIT_MAX": wait_max,
                },
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
            churner.join(timeout=30)
            sampler.stop.set()
            sampler.join()
            if not Path(f"{prefix}_stats.csv").exists():
                raise SystemExit(f"locust gave no results:\n{locust.stderr[-3000:]}")
            result = _locust_summary(prefix)
            failures_csv = Path(f"{prefix}_failures.csv")
            result["failure_kinds"] = (
                failures_csv.read_text()[:2000] if failures_csv.exists() else ""
            )
            result["websockets"] = counts
            result["memory"] = {
                key: _memory_summary(points) for key, points in sampler.samples.items()
            }
            log_text = "".join(
                path.read_text(errors="replace") for path in layout.logs.glob("*.log")
            )
            result["tracebacks_in_logs"] = log_text.count("Traceback")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return result


def report(result: dict, args, commit: str) -> str:
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit {commit} with "
        f"`python -m bench.soak --minutes {args.minutes:g} --users {args.users} "
        f"--wait {args.wait} --workers {args.workers} --sockets {args.sockets} "
        f"--socket-life {args.socket_life}`: "
        f"nginx (TLS) + gunicorn ({args.workers} workers) + 2 daphne, loopback only.",
        "",
        f"- Requests: {result['requests']:,} at {result['rate']:.1f} req/s; "
        f"failures: {result['failures']}; p50 / p95 / p99: {result['p50']:.0f} / "
        f"{result['p95']:.0f} / {result['p99']:.0f} ms.",
        f"- Websocket sessions opened and closed: {result['websockets']['opened']:,}; "
        f"failed: {result['websockets']['failed']}.",
        f"- Tracebacks in the servers' logs: {result['tracebacks_in_logs']}.",
        "",
        "| Process | RSS at start / half-way / end (MB) | "
        f"RSS slope after {WARMUP_MINUTES} min (MB/min) | RSS slope, second half "
        "(MB/min) | Private memory start / end (MB) | Private memory slope, "
        "second half (MB/min) | Shared memory touched, start / end (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def signed(slope):
        return "–" if slope is None else f"{slope:+.3f}"

    for key, memory in sorted(result["memory"].items()):
        lines.append(
            f"| {key} | {memory['start_mb']:.1f} / {memory['middle_mb']:.1f} / "
            f"{memory['end_mb']:.1f} | {signed(memory['slope_mb_per_min'])} | "
            f"{signed(memory['second_half_slope_mb_per_min'])} | "
            f"{memory['private_start_mb']:.1f} / {memory['private_end_mb']:.1f} | "
            f"{signed(memory['private_second_half_slope_mb_per_min'])} | "
            f"{memory['shared_start_mb']:.1f} / {memory['shared_end_mb']:.1f} |"
        )
    lines += [
        "",
        "| Request | Requests | Failures | p95 (ms) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, row in sorted(result["by_name"].items()):
        lines.append(
            f"| `{name}` | {row['requests']:,} | {row['failures']} | {row['p95']:.0f} |"
        )
    lines += [
        "",
        "The machine's 2 cores were shared with other work during the run; locust, "
        "the websocket churn, the servers, PostgreSQL and Redis all ran on them.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    require_backends()
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        raise SystemExit("nginx is needed (Debian package nginx-light).")
    setup_django()
    data = prepare()
    result = run(args, data)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    ).stdout.strip()
    text = report(result, args, commit)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "soak.json").write_text(json.dumps(result, indent=1))
    readme = README.read_text()
    if "<!-- results:soak -->" in readme:
        readme = re.sub(
            r"<!-- results:soak -->.*?<!-- /results:soak -->",
            lambda _: f"<!-- results:soak -->\n{text}\n<!-- /results:soak -->",
            readme,
            flags=re.DOTALL,
        )
        README.write_text(readme)
    print(text)
    return 0 if result["failures"] == 0 and result["websockets"]["failed"] == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    sys.exit(main(sys.argv[1:]))
