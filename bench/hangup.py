"""
Visitors who hang up: pages under load while about one client in ten leaves early.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.hangup

Serves the app as the listings benchmark does (`--processes` daphne processes,
production settings, requests spread round-robin) against the listings
already in the database, and drives `--clients` closed-loop clients over the
search page (uncached: a different rent bound each time), listing pages and
the home page. First a baseline without hang-ups (a quarter of `--duration`),
then the hang-up phase: each request is, with probability `--hang-up-share`,
cut by its client at a random moment in its first 300 ms (a reset or a plain
close). Every other request must answer 200. Every `--sample-every` seconds it
records each process's resident memory and its pool's numbers (from
/readyz); at the end it waits for every pool to have all its connections idle
again. Results go to bench/results/hangup.json and .md, and the table into
bench/README.md.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shlex
import sys
import time
from pathlib import Path

from bench import harness

CUT_WITHIN = 0.3  # seconds: when a leaving client hangs up


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.hangup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--duration", type=float, default=180, help="Seconds of the hang-up phase."
    )
    parser.add_argument("--hang-up-share", type=float, default=0.1)
    parser.add_argument("--sample-every", type=float, default=10)
    parser.add_argument("--port", type=int, default=9150)
    parser.add_argument("--no-readme", action="store_true")
    return parser.parse_args(argv)


def prepare_paths() -> dict:
    from django.core.management import call_command

    from listings.models import Listing, Locality

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    listings = [
        listing.get_absolute_url()
        for listing in Listing.objects.published()
        .order_by("?")
        .only("pk", "slug")[:300]
    ]
    if not listings:
        raise SystemExit("No published listings: load some (manage.py seed_bulk).")
    slugs = list(Locality.objects.values_list("slug", flat=True))
    return {"listings": listings, "localities": slugs}


def path_for(paths: dict) -> str:
    roll = random.random()
    if roll < 0.6:
        locality = random.choice(paths["localities"])
        return f"/rent/?locality={locality}&rent_max={random.randint(15_000, 90_000)}"
    if roll < 0.9:
        return random.choice(paths["listings"])
    return "/"


def rss_mib(port: int) -> float | None:
    """Resident memory of the daphne process listening on `port`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"daphne" in b" ".join(args) and str(port).encode() in args:
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return None


def phone() -> str:
    """A visitor's address as the proxy in front reports it (PROXY_COUNT=1)."""
    return (
        f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    )


async def hang_up(base_url: str, path: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: {phone()}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    await asyncio.sleep(random.uniform(0, CUT_WITHIN))
    if random.random() < 0.5:
        writer.transport.abort()
    else:
        writer.close()


async def readyz(session, base_url: str) -> dict:
    async with session.get(f"{base_url}/readyz") as response:
        body = await response.json()
        return {"status": response.status, **body.get("pool", {})}


async def run(args, base_urls: list[str], paths: dict) -> dict:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=args.clients * len(base_urls))
    ports = [int(url.rsplit(":", 1)[1]) for url in base_urls]
    samples: list[dict] = []
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def sample(phase: str):
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "phase": phase,
                    "rss_mib": [rss_mib(port) for port in ports],
                    "pool": [await readyz(session, url) for url in base_urls],
                }
            )

        async def phase(name: str, seconds: float, share: float) -> dict:
            counter = {"n": 0}
            latencies, failures, hung_up = [], [], 0
            deadline = time.monotonic() + seconds

            async def client():
                nonlocal hung_up
                while time.monotonic() < deadline:
                    index = counter["n"]
                    counter["n"] += 1
                    base_url = base_urls[index % len(base_urls)]
                    path = path_for(paths)
                    if random.random() < share:
                        await hang_up(base_url, path)
                        hung_up += 1
                        continue
                    began = time.perf_counter()
                    try:
                        async with session.get(
                            base_url + path,
                            allow_redirects=False,
                            headers={"X-Forwarded-For": phone()},
                        ) as response:
                            await response.read()
                            status = response.status
                    except (aiohttp.ClientError, TimeoutError) as error:
                        status = type(error).__name__
                    latencies.append((time.perf_counter() - began) * 1000)
                    if status != 200:
                        failures.append({"path": path, "status": status})

            async def sampler():
                while time.monotonic() < deadline:
                    await sample(name)
                    await asyncio.sleep(args.sample_every)

            await asyncio.gather(sampler(), *(client() for _ in range(args.clients)))
            return {
                "phase": name,
                "seconds": seconds,
                "answered": len(latencies),
                "hung_up": hung_up,
                "failed": len(failures),
                "failures": failures[:20],
                "latency_ms": harness.summary(latencies),
            }

        baseline = await phase("baseline", args.duration / 4, 0)
        hangups = await phase("hang-up", args.duration, args.hang_up_share)
        # Every pool has all its connections idle again (or says why not).
        settle_deadline = time.monotonic() + 30
        while True:
            pools = [await readyz(session, url) for url in base_urls]
            if all(p["idle"] == p["size"] and not p["waiting"] for p in pools):
                break
            if time.monotonic() > settle_deadline:
                break
            await asyncio.sleep(0.5)
        await sample("after")
    return {"phases": [baseline, hangups], "pools_after": pools, "samples": samples}


def server_errors() -> dict:
    counts = {"Exception inside application": 0, "CurrentThreadExecutor": 0}
    for log in harness.RESULTS_DIR.glob("daphne-*.log"):
        text = log.read_text(errors="replace")
        for needle in counts:
            counts[needle] += text.count(needle)
    return counts


def markdown(report: dict) -> str:
    run = report["run"]
    lines = [
        f"Measured {report['generated_at']} on commit {report['code']} with "
        f"`{report['command']}`: {run['processes']} daphne processes, "
        f"{run['clients']} clients, pool of {run['pool_max']} per process, "
        f"{run['listings']:,} listings. The machine was shared with other work.",
        "",
        "| Phase | Seconds | Answered | Hung up | Failed | "
        "p50 / p95 / p99 (ms) | p95 vs baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base_p95 = report["phases"][0]["latency_ms"]["p95"]
    for phase in report["phases"]:
        lat = phase["latency_ms"]
        ratio = lat["p95"] / base_p95 if base_p95 and lat["p95"] else None
        lines.append(
            f"| {phase['phase']} | {phase['seconds']:.0f} | {phase['answered']:,} | "
            f"{phase['hung_up']:,} | {phase['failed']} | "
            f"{harness.fmt(lat['p50'])} / {harness.fmt(lat['p95'])} / "
            f"{harness.fmt(lat['p99'])} | "
            f"{f'{ratio:.2f}×' if ratio else '–'} |"
        )
    lines += ["", "| t (s) | phase | RSS per process (MiB) | pool size / idle |"]
    lines.append("| ---: | --- | --- | --- |")
    for s in report["samples"]:
        pools = ", ".join(f"{p.get('size')} / {p.get('idle')}" for p in s["pool"])
        rss = ", ".join(str(r) for r in s["rss_mib"])
        lines.append(f"| {s['t']} | {s['phase']} | {rss} | {pools} |")
    after = ", ".join(f"{p['size']} / {p['idle']}" for p in report["pools_after"])
    errors = report["server_errors"]
    lines += [
        "",
        f"Pools after the run (size / idle, per process): {after}. Server logs: "
        f'{errors["Exception inside application"]} "Exception inside '
        f'application", {errors["CurrentThreadExecutor"]} CurrentThreadExecutor '
        "errors.",
        "",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; "
        f"PostgreSQL {report['machine']['postgresql']}; Python "
        f"{report['machine']['python']}. The load generator, daphne, PostgreSQL "
        "and Redis share these cores.",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    database_url, _ = harness.require_backends()
    # Visitors come through a proxy, each with an address of their own (the
    # per-address search limit would otherwise refuse one load generator).
    os.environ["PROXY_COUNT"] = "1"
    harness.setup_django()
    from django.conf import settings

    paths = prepare_paths()
    ports = [harness.free_port(args.port + i) for i in range(args.processes)]
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    with harness.daphne_servers(ports, harness.RESULTS_DIR) as base_urls:
        result = asyncio.run(run(args, base_urls, paths))
    from listings.models import Listing

    report = {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.hangup" + (f" {shlex.join(argv)}" if argv else ""),
        "code": harness.code_version(),
        "run": {
            "processes": args.processes,
            "clients": args.clients,
            "hang_up_share": args.hang_up_share,
            "pool_max": settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"],
            "listings": Listing.objects.count(),
        },
        "machine": harness.machine_notes(database_url),
        **result,
        "server_errors": server_errors(),
    }
    (harness.RESULTS_DIR / "hangup.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    table = markdown(report)
    (harness.RESULTS_DIR / "hangup.md").write_text(table + "\n")
    if not args.no_readme:
        harness.replace_readme_section("results:hangup", table)
    print(table)
    failed = report["phases"][1]["failed"] + report["phases"][0]["failed"]
    back = all(p["idle"] == p["size"] for p in report["pools_after"])
    return 0 if failed == 0 and back else 1


if __name__ == "__main__":
    sys.exit(main())
