"""
One popular listing's page under 32 clients: the old per-view UPDATE against
counting off the page's path, in one run.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.counting

Three sides, each served by `--processes` daphne processes with production
settings, each hit by `--concurrency` clients requesting the same listing page
with a phone browser's user agent:

- before: the code of `--before` (the last commit whose listing page ran
  `UPDATE listings_listing SET view_count = view_count + 1`), unpacked with
  `git archive` into a temporary folder and served from there;
- counting off: this code with `COUNTING_ENABLED=0` (the page without any
  counting: the baseline for what counting costs);
- counting on: this code with counting in Redis.

Then flushes what the "on" side counted and checks that the listing's view
counter grew by exactly the number of pages served.

A whole page under 32 clients moves by tens of milliseconds with the shared
machine's load, so the counting's own part is also timed in this process
against the same Redis (`--iterations`): the listing view's counting call for
varied anonymous visitors, on and off in turn, with the SQL it runs counted
(none allowed). That is the figure to hold against "at most 1 ms more at p95". Results go to
bench/results/counting.json and the table into bench/README.md.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

BROWSER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
# The last commit of the listing page with the per-view UPDATE.
BEFORE = "7ef446c"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.counting", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--before", default=BEFORE, help="Commit of the old page.")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=40)
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="Sides run in turn.")
    parser.add_argument("--port", type=int, default=9610)
    parser.add_argument(
        "--iterations", type=int, default=5000, help="in-process timings per side"
    )
    parser.add_argument("--no-readme", action="store_true")
    return parser.parse_args(argv)


def pick_listing() -> dict:
    from listings.models import Listing

    listing = Listing.objects.published().order_by("-published_at", "-id").first()
    if listing is None:
        raise SystemExit("No published listing: load the bulk listings first.")
    return {"id": listing.pk, "path": listing.get_absolute_url()}


def measure_in_process(listing_id: int, iterations: int) -> dict:
    """The listing page's counting call, on and off in turn, in this process."""
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from listings.models import Listing
    from listings.stats import count_view
    from nobroker import counting

    listing = Listing.objects.get(pk=listing_id)
    factory = RequestFactory()

    def request_for(index):
        request = factory.get(
            listing.get_absolute_url(),
            HTTP_USER_AGENT=f"{BROWSER_AGENT} v{index % 997}",
            REMOTE_ADDR=f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
        )
        request.user = AnonymousUser()
        return request

    times = {"on": [], "off": []}
    queries = {"on": 0, "off": 0}
    # Each side's store made once, as a server process keeps its own; the
    # "on" side counts under a prefix of its own, deleted afterwards, so no
    # flush ever adds these timings' views to the listing.
    stores = {"off": counting.OffBackend()}
    enabled, prefix = settings.COUNTING_ENABLED, settings.REDIS_KEY_PREFIX
    settings.COUNTING_ENABLED = True
    settings.REDIS_KEY_PREFIX = f"{prefix}-bench-in-process"
    counting.reset_backend()
    stores["on"] = counting.backend()
    try:
        for i in range(200 + iterations * 2):
            side = "on" if i % 2 == 0 else "off"
            settings.COUNTING_ENABLED = side == "on"
            counting._backend = stores[side]
            request = request_for(i)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                count_view(request, listing)
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 200:  # after a warm-up of both sides
                times[side].append(elapsed)
                queries[side] += len(captured)
    finally:
        on = stores["on"]
        if hasattr(on, "write"):
            on.write()
        if hasattr(on, "client"):
            for key in on.client.scan_iter(match=on.prefix + "*", count=1000):
                on.client.delete(key)
        settings.COUNTING_ENABLED, settings.REDIS_KEY_PREFIX = enabled, prefix
        counting.reset_backend()
    on, off = harness.summary(times["on"]), harness.summary(times["off"])
    return {
        "iterations": iterations,
        "on": on,
        "off": off,
        "p95_difference_ms": on["p95"] - off["p95"],
        "queries": queries,
    }


def unpack(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit],
        cwd=harness.BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(args, side: str, cwd: Path, env: dict, path: str, port: int):
    """The side's samples and how many requests it was sent, warm-up included."""
    ports = [port + i for i in range(args.processes)]
    log_dir = harness.RESULTS_DIR / f"counting-{side}"
    sent = 0

    async def one_more():
        nonlocal sent
        sent += 1

    with harness.daphne_servers(ports, log_dir, cwd=cwd, env=env) as base_urls:
        samples = asyncio.run(
            harness.http_load(
                base_urls,
                lambda index: path,
                before_each=one_more,
                headers={"User-Agent": BROWSER_AGENT},
                count=args.requests,
                duration=args.duration,
                concurrency=args.concurrency,
                warmup=args.warmup,
            )
        )
    return samples, sent


def summarise(side: str, samples: list) -> dict:
    ok = [s for s in samples if s.status == 200]
    return {
        "side": side,
        "statuses": harness.status_counts(samples),
        "latency_ms": harness.summary([s.latency_ms for s in ok]),
        "server_ms": harness.summary([s.server_ms for s in ok]),
        "db_ms": harness.summary([s.db_ms for s in ok]),
        "queries": sorted({s.queries for s in ok if s.queries is not None}),
        "served": len(ok),
    }


def flush_check(listing_id: int, counted_pages: int) -> dict:
    from listings.models import Listing
    from nobroker import counting

    before = Listing.objects.get(pk=listing_id).view_count
    started = time.perf_counter()
    result = counting.flush()
    seconds = time.perf_counter() - started
    after = Listing.objects.get(pk=listing_id).view_count
    return {
        "flush_seconds": round(seconds, 3),
        "views_added": after - before,
        "pages_counted": counted_pages,
        "batches": result.batches,
    }


def markdown(report: dict) -> str:
    lines = [
        f"Measured {report['measured_at']} at commit {report['commit']} on a "
        f"shared machine ({report['machine']['cores']} cores, "
        f"{report['machine']['cpu']}); other work was running, so compare the "
        "rows with each other, not with other runs.",
        "",
        f"One listing page, {report['concurrency']} clients, {report['processes']} "
        "daphne processes; client-side latency of 200 answers in ms, "
        f"{report['rounds']} rounds of each side in turn, pooled.",
        "",
        "| side | pages | p50 | p95 | p99 | server p95 | SQL p95 | queries | "
        "p99 vs before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    before_p99 = report["sides"]["before"]["latency_ms"]["p99"]
    for key, label in [
        ("before", f"before ({report['before']}: UPDATE per view)"),
        ("off", "counting off"),
        ("on", "counting on (Redis)"),
    ]:
        side = report["sides"][key]
        latency = side["latency_ms"]
        ratio = latency["p99"] / before_p99 if before_p99 else None
        lines.append(
            f"| {label} | {side['served']} | {harness.fmt(latency['p50'])} | "
            f"{harness.fmt(latency['p95'])} | {harness.fmt(latency['p99'])} | "
            f"{harness.fmt(side['server_ms']['p95'])} | "
            f"{harness.fmt(side['db_ms']['p95'])} | "
            f"{', '.join(map(str, side['queries']))} | "
            f"{ratio:.2f} |"
        )
    flush = report["flush"]
    on, off = report["sides"]["on"], report["sides"]["off"]
    lines += [
        "",
        f"Counting on vs off: p95 {harness.fmt(on['latency_ms']['p95'])} vs "
        f"{harness.fmt(off['latency_ms']['p95'])} ms on the client, server p95 "
        f"{harness.fmt(on['server_ms']['p95'])} vs "
        f"{harness.fmt(off['server_ms']['p95'])} ms; queries "
        f"{on['queries']} vs {off['queries']}.",
        f"Flush after the run: {flush['batches']} batch(es) in "
        f"{flush['flush_seconds']} s; the listing's view counter grew by "
        f"{flush['views_added']} for {flush['pages_counted']} requests sent "
        "(warm-ups included).",
    ]
    inside = report.get("in_process")
    if inside:
        on, off = inside["on"], inside["off"]
        lines += [
            "",
            f"The counting call itself, in process against the same Redis, "
            f"{inside['iterations']:,} anonymous visitors per side in turn, "
            "p50 / p95 / p99 in ms:",
            "",
            "| counting | p50 | p95 | p99 | queries |",
            "| --- | --- | --- | --- | --- |",
            f"| on (Redis) | {on['p50']:.3f} | {on['p95']:.3f} | {on['p99']:.3f} | "
            f"{inside['queries']['on']} |",
            f"| off | {off['p50']:.3f} | {off['p95']:.3f} | {off['p99']:.3f} | "
            f"{inside['queries']['off']} |",
            "",
            f"Counting adds {inside['p95_difference_ms']:.3f} ms at p95 "
            f"(target: at most 1 ms) and {inside['queries']['on'] - inside['queries']['off']} queries.",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv or [])
    database_url, _redis_url = harness.require_backends()
    harness.setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    listing = pick_listing()
    harness.RESULTS_DIR.mkdir(exist_ok=True)

    from nobroker import counting

    counting.flush()  # Start from nothing pending.
    env_on = harness.app_environment()
    env_off = {**env_on, "COUNTING_ENABLED": "0"}
    samples: dict[str, list] = {"before": [], "off": [], "on": []}
    sent_to_on = 0
    with tempfile.TemporaryDirectory(prefix="nb-before-") as folder:
        old = unpack(args.before, Path(folder))
        # The old code collects its own static files (its manifest may differ).
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=old,
            env=env_on,
            check=True,
        )
        for _round in range(args.rounds):
            for side, cwd, env in [
                ("before", old, env_on),
                ("off", harness.BASE_DIR, env_off),
                ("on", harness.BASE_DIR, env_on),
            ]:
                got, sent = measure(args, side, cwd, env, listing["path"], args.port)
                samples[side] += got
                if side == "on":
                    sent_to_on += sent
                result = summarise(side, got)
                print(
                    f"{side}: p50 {harness.fmt(result['latency_ms']['p50'])} "
                    f"p95 {harness.fmt(result['latency_ms']['p95'])} "
                    f"p99 {harness.fmt(result['latency_ms']['p99'])} ms, "
                    f"{result['served']} pages, queries {result['queries']}"
                )
    sides = {side: summarise(side, got) for side, got in samples.items()}
    flushed = flush_check(listing["id"], sent_to_on)
    in_process = measure_in_process(listing["id"], args.iterations)
    print(
        f"in process: counting on p50/p95/p99 "
        f"{in_process['on']['p50']:.3f}/{in_process['on']['p95']:.3f}/"
        f"{in_process['on']['p99']:.3f} ms, off {in_process['off']['p50']:.3f}/"
        f"{in_process['off']['p95']:.3f}/{in_process['off']['p99']:.3f} ms; "
        f"queries {in_process['queries']}"
    )
    report = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": harness.code_version(),
        "before": args.before,
        "machine": harness.machine_notes(database_url),
        "concurrency": args.concurrency,
        "processes": args.processes,
        "rounds": args.rounds,
        "listing": listing,
        "sides": sides,
        "flush": flushed,
        "in_process": in_process,
    }
    (harness.RESULTS_DIR / "counting.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    table = markdown(report)
    print(table)
    if not args.no_readme:
        harness.replace_readme_section("results:counting", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
