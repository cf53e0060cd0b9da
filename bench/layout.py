"""
What the production layout gains over one daphne process: the same pages served
by one daphne process, by gunicorn at 1, 2 and 4 sync workers, and by nginx in
front of gunicorn (deploy/layout.py), in one run, with wrk at 32 connections.

    DATABASE_URL=... REDIS_URL=... python -m bench.layout [--duration 10]

Pages: `/healthz` (the floor: no query, no template), the search page cached
(one URL again and again) and uncached (a different upper rent each request, so
none is answered from another's cache entry), and listing pages (200 listings,
each cached after its first view). For each: req/s, p50/p95/p99 latency as wrk
measures it, non-2xx answers, and the server's CPU per request (user + system
time of every server process, nginx included, divided by the requests; the
database's and Redis's CPU are not in it). Writes `bench/results/layout.json`,
`bench/results/layout.md` and the table in `bench/README.md`.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
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

CONNECTIONS = 32
# The first of 30 ports the servers may take (BENCH_PORT_BASE).
PORTS = range(
    int(os.environ.get("BENCH_PORT_BASE", "9730")),
    int(os.environ.get("BENCH_PORT_BASE", "9730")) + 30,
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The addresses wrk sends: 10.x.y.z, a different one on every request.

WRK_SCRIPT = r"""
local paths = {PATHS}
local vary = {VARY}
local counter = 0
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  if vary then
    path = path .. "&rent_max=" .. (40000 - (math.random(0, 20000) * 1))
  end
  -- Many people, not one address: the rate limits count per client address,
  -- taken from X-Forwarded-For as a load balancer in front would set it.
  local address = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) ..
    "." .. math.random(1, 254)
  return wrk.format("GET", path, {["X-Forwarded-For"] = address})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"socket_errors\": %d, " ..
    "\"non_2xx\": %d, \"p50\": %.3f, \"p95\": %.3f, \"p99\": %.3f}\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each")
    return parser.parse_args(argv)


def prepare() -> dict:
    from django.core.management import call_command
    from django.db.models import Count

    from listings.models import Listing

    call_command("migrate", interactive=False, verbosity=0)
    busiest = (
        Listing.objects.published()
        .filter(property_type=Listing.PropertyType.FLAT)
        .values("locality__slug")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if busiest is None:
        raise SystemExit("No published flats: load listings first (seed_bulk).")
    details = [
        listing.get_absolute_url()
        for listing in Listing.objects.published().order_by("?")[:200]
    ]
    return {
        "locality": busiest["locality__slug"],
        "listings": Listing.objects.count(),
        "details": details,
    }


def pages(data: dict) -> list[tuple[str, list[str], bool]]:
    search = f"/rent/?locality={data['locality']}&type=flat&rent_min=10000&sort=newest"
    return [
        ("`/healthz` (floor)", ["/healthz"], False),
        ("search, cached (one URL)", [search + "&rent_max=40000"], False),
        ("search, uncached (a new rent bound each request)", [search], True),
        (
            "listing page (200 listings, cached once seen)",
            data["details"],
            False,
        ),
    ]


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _tree(pid: int) -> list[int]:
    children = subprocess.run(  # noqa: S603
        [shutil.which("pgrep") or "pgrep", "-P", str(pid)],
        capture_output=True,
        text=True,
    ).stdout.split()
    found = [pid]
    for child in children:
        found += _tree(int(child))
    return found


def wrk(url: str, paths: list[str], vary: bool, seconds: int) -> dict:
    lua = WRK_SCRIPT.replace(
        "{PATHS}", "{" + ", ".join(json.dumps(p) for p in paths) + "}"
    ).replace("{VARY}", "true" if vary else "false")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(  # noqa: S603
            [shutil.which("wrk") or "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s"]
            + ["--timeout", "10s", "-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"^RESULT (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk gave no result:\n{out[-2000:]}")
    return json.loads(match.group(1))


class Daphne:
    label = "1 daphne process"

    def __init__(self, env, root):
        self.env, self.root = env, root

    def __enter__(self):
        from nobroker.tests.processes import Server

        port = _port()
        self.server = Server(
            [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1"]
            + ["-p", str(port), "nobroker.asgi:application"],
            self.env,
            port,
            self.root / "daphne.log",
        )
        self.url = self.server.url
        return self

    def pids(self):
        return _tree(self.server.process.pid)

    def __exit__(self, *exc):
        self.server.stop()


class Gunicorn(Daphne):
    def __init__(self, env, root, workers):
        super().__init__(env, root)
        self.workers = workers
        self.label = f"gunicorn, {workers} worker{'s' if workers > 1 else ''}"

    def __enter__(self):
        from nobroker.tests.processes import Server

        port = _port()
        env = {
            **self.env,
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
        }
        self.server = Server(
            [str(Path(sys.executable).with_name("gunicorn"))]
            + ["-c", str(BASE_DIR / "deploy" / "gunicorn.conf.py")],
            env,
            port,
            self.root / f"gunicorn-{self.workers}.log",
        )
        self.url = self.server.url
        return self


class Nginx:
    def __init__(self, env, root, workers):
        self.env, self.root, self.workers = env, root, workers
        self.label = (
            f"nginx (TLS) + gunicorn, {workers} worker{'s' if workers > 1 else ''}"
        )

    def __enter__(self):
        from deploy.layout import Layout

        folder = self.root / f"layout-{self.workers}"
        folder.mkdir()
        self.layout = Layout(
            root=folder,
            # nginx adds itself behind the load balancer's address.
            env={
                **self.env,
                "STATIC_ROOT": str(BASE_DIR / "staticfiles"),
                "PROXY_COUNT": "2",
            },
            ports=[_port() for _ in range(4)],
            workers=self.workers,
            websockets=1,
        ).__enter__()
        self.url = self.layout.url
        return self

    def pids(self):
        found = []
        for name, process in self.layout.processes.items():
            if not name.startswith("websockets"):
                found += _tree(process.pid)
        return found

    def __exit__(self, *exc):
        self.layout.__exit__(*exc)


_used_ports: set[int] = set()


def _port() -> int:
    import socket

    for port in PORTS:
        if port in _used_ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise SystemExit("No free port in the benchmark's range.")


LOAD_AT_START = os.getloadavg()


def measure(args, data) -> list[dict]:
    env = app_environment()
    env.pop("SERVER_TIMING", None)  # production settings: no timing header
    env["CSRF_TRUSTED_ORIGINS"] = "https://127.0.0.1"
    # wrk plays the load balancer: its X-Forwarded-For is the client's address.
    env["PROXY_COUNT"] = "1"
    # No worker recycling during a run: a recycled worker takes its CPU time
    # with it, and the CPU per request would come out wrong.
    env["GUNICORN_MAX_REQUESTS"] = "0"
    root = Path(tempfile.mkdtemp(prefix="bench-layout-"))
    root.chmod(0o755)
    servers = [
        Daphne(env, root),
        Gunicorn(env, root, 1),
        Gunicorn(env, root, 2),
        Gunicorn(env, root, 4),
        Nginx(env, root, 1),
        Nginx(env, root, 2),
        Nginx(env, root, 4),
    ]
    rows = []
    try:
        for server in servers:
            with server as running:
                print(f"-- {running.label} at {running.url}")
                for label, paths, vary in pages(data):
                    wrk(running.url, paths, vary, args.warmup)
                    pids = running.pids()
                    cpu_before = _cpu_seconds(pids)
                    result = wrk(running.url, paths, vary, args.duration)
                    cpu = _cpu_seconds(pids) - cpu_before
                    result.update(
                        server=running.label,
                        page=label,
                        rate=result["requests"] / (result["duration_us"] / 1e6),
                        cpu_ms=cpu * 1000 / max(result["requests"], 1),
                    )
                    print(
                        f"   {label}: {result['rate']:.0f} req/s, p50/p95/p99 "
                        f"{result['p50']:.1f}/{result['p95']:.1f}/{result['p99']:.1f} ms, "
                        f"CPU {result['cpu_ms']:.2f} ms/req, non-2xx {result['non_2xx']}, "
                        f"socket errors {result['socket_errors']}"
                    )
                    rows.append(result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def table(rows: list[dict], data: dict, args, commit: str) -> str:
    baseline = {
        row["page"]: row["rate"] for row in rows if row["server"] == "1 daphne process"
    }
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit {commit} with "
        f"`python -m bench.layout --duration {args.duration}`: {data['listings']:,} "
        f"listings, wrk with {CONNECTIONS} connections (2 threads) on the same machine.",
        "",
        "| Server | Page | req/s | × 1 daphne | p50 / p95 / p99 (ms) | CPU per request (ms) | non-2xx |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ratio = row["rate"] / baseline[row["page"]] if baseline.get(row["page"]) else 0
        lines.append(
            f"| {row['server']} | {row['page']} | {_number(row['rate'])} | "
            f"{ratio:.2f}× | {row['p50']:.1f} / {row['p95']:.1f} / {row['p99']:.1f} | "
            f"{row['cpu_ms']:.2f} | {row['non_2xx'] + row['socket_errors']} |"
        )
    lines += [
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        "shared with other work during the run (the figures are ratios within this "
        "run); wrk, the servers, PostgreSQL and Redis all on these cores; load "
        f"average {LOAD_AT_START[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        f"the end; Python {platform.python_version()}.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    require_backends()
    for tool in ("wrk", "nginx", "openssl"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(
                f"{tool} is needed (Debian packages wrk, nginx-light, openssl)."
            )
    setup_django()
    data = prepare()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    rows = measure(args, data)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    ).stdout.strip()
    text = table(rows, data, args, commit)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "layout.json").write_text(json.dumps(rows, indent=1))
    (RESULTS_DIR / "layout.md").write_text(text + "\n")
    readme = README.read_text()
    block = f"<!-- results:layout -->\n{text}\n<!-- /results:layout -->"
    if "<!-- results:layout -->" in readme:
        readme = re.sub(
            r"<!-- results:layout -->.*?<!-- /results:layout -->",
            lambda _: block,
            readme,
            flags=re.DOTALL,
        )
        README.write_text(readme)
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    sys.exit(main(sys.argv[1:]))
