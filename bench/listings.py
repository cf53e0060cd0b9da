"""
Search and listing pages at a million listings, beside the same SQL run raw.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.listings

Loads the bulk listings if there are fewer than --listings, serves the app under
daphne on loopback with production settings, and for each scenario:

1. requests a few of the scenario's URLs in this process through Django's test
   client and captures the SQL the view runs (so the baseline follows whatever
   the view does);
2. drives concurrent HTTP load and records the client-side latency and the
   server's own time (its Server-Timing header);
3. replays the captured statements raw through psycopg with the same
   concurrency.

"Uncached" scenarios clear the Redis cache before every request; "cached" ones
warm it first. Results go to bench/results/listings.json and .md, and the table
into bench/README.md.
"""

import argparse
import asyncio
import datetime as dt
import json
import re
import shlex
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bench import harness

SEARCH_TARGET_MS = 50
COMMON_WORD = "balcony"
RARE_WORD = "jacuzzi"


@dataclass
class Scenario:
    key: str
    name: str
    path_for: object  # index -> path
    cached: bool
    search: bool


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.listings", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--listings",
        type=int,
        default=1_000_000,
        help="Bulk listings to have in the database (default 1,000,000; "
        "fewer for a quick trial run).",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[2, 4, 8],
        help="Concurrent clients; a comma-separated list runs every scenario at "
        "each level (default 2,4,8).",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="Daphne processes serving the app, one per core as the Procfile's "
        "`web` scaled out (default 2); requests go round-robin, as a load "
        "balancer would send them.",
    )
    parser.add_argument(
        "--requests", type=int, default=400, help="Measured requests per scenario."
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20,
        help="At most this many seconds of measured load per scenario and side.",
    )
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument(
        "--captures",
        type=int,
        default=40,
        help="Distinct URLs per scenario whose SQL is captured for the replay.",
    )
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument(
        "--only", nargs="*", default=None, help="Run only these scenario keys."
    )
    parser.add_argument(
        "--no-readme",
        action="store_true",
        help="Do not write the table into bench/README.md.",
    )
    return parser.parse_args(argv)


def prepare_data(args) -> dict:
    """Migrates, loads the bulk listings, builds static files; picks the inputs."""
    from django.core.management import call_command
    from django.db.models import Count

    from listings.models import Listing

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_bulk", listings=args.listings)
    # Production settings serve hashed static files: the pages need the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)

    busiest = (
        Listing.objects.published()
        .filter(property_type=Listing.PropertyType.FLAT)
        .values("locality__slug")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if busiest is None:
        raise SystemExit("No published flats to search: is the database empty?")
    sample = list(Listing.objects.published().order_by("?")[:3000])
    return {
        "locality": busiest["locality__slug"],
        "published": Listing.objects.published().count(),
        "total": Listing.objects.count(),
        "detail_paths": [listing.get_absolute_url() for listing in sample],
    }


def scenarios(data: dict) -> list[Scenario]:
    # The deepest page the search serves: it pages no further than its capped
    # count, and a deeper page number shows this one.
    from listings.search import MAX_PAGE as DEEP_PAGE

    locality = data["locality"]
    details = data["detail_paths"]

    def search(index, page=None, vary=True):
        # A different upper rent for each request: every request is a search
        # someone could make, and none is answered from another's cache entry.
        params = [
            ("locality", locality),
            ("type", "flat"),
            ("rent_min", 10_000),
            ("rent_max", 40_000 - (index % 1000) * 5 if vary else 40_000),
            ("sort", "newest"),
        ]
        if page:
            params.append(("page", page))
        return "/rent/?" + urlencode(params)

    def many_filters(index):
        # Filters the type-and-rent index does not hold: checked on the
        # covering newest-first index (migration 0009).
        params = [
            ("locality", locality),
            ("bedrooms", 3),
            ("parking", "car"),
            ("water_min", 12),
            ("pets", "on"),
            ("rent_max", 150_000 - (index % 1000) * 5),
            ("sort", "newest"),
        ]
        return "/rent/?" + urlencode(params)

    def text(word):
        return lambda index: "/rent/?" + urlencode({"q": word, "sort": "newest"})

    return [
        Scenario(
            "floor",
            "Floor: `/healthz` (no query, no template, no cache)",
            lambda index: "/healthz",
            cached=True,
            search=False,
        ),
        Scenario(
            "search_page1",
            "Search: locality + type + rent, newest, page 1",
            search,
            cached=False,
            search=True,
        ),
        Scenario(
            "search_deep",
            f"Search: same filters, page {DEEP_PAGE} (the deepest served)",
            lambda index: search(index, page=DEEP_PAGE),
            cached=False,
            search=True,
        ),
        Scenario(
            "search_many",
            "Search: locality + 3+ bedrooms + car parking + 12 h water + pets + rent",
            many_filters,
            cached=False,
            search=True,
        ),
        Scenario(
            "text_common",
            f'Free text, common word "{COMMON_WORD}"',
            text(COMMON_WORD),
            cached=False,
            search=True,
        ),
        Scenario(
            "text_rare",
            f'Free text, rare word "{RARE_WORD}"',
            text(RARE_WORD),
            cached=False,
            search=True,
        ),
        Scenario(
            "search_page1_cached",
            "Search: page 1 again (cached)",
            lambda index: search(index, vary=False),
            cached=True,
            search=False,
        ),
        Scenario(
            "detail_uncached",
            "Listing page, uncached (a different listing each request)",
            lambda index: details[index % len(details)],
            cached=False,
            search=False,
        ),
        Scenario(
            "detail_cached",
            "Listing page, cached (20 listings)",
            lambda index: details[index % 20],
            cached=True,
            search=False,
        ),
    ]


def capture(scenario: Scenario, count: int, seconds: float = 10) -> list[dict]:
    """Requests the scenario's first URLs through Django's test client, as the
    server would answer them, and records the SQL each one runs (for `count`
    URLs, or as many as `seconds` allow, at least one)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(raise_request_exception=False)
    captured = []
    deadline = time.monotonic() + seconds
    for index in range(count):
        if captured and time.monotonic() > deadline:
            break
        path = scenario.path_for(index)
        if scenario.cached:
            client.get(path)
        else:
            cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        captured.append(
            {
                "path": path,
                "status": response.status_code,
                "statements": harness.replayable(
                    [query["sql"] for query in queries.captured_queries]
                ),
            }
        )
    return captured


def explain(database_url: str, statements: list[str]) -> list[dict]:
    """EXPLAIN ANALYZE of each SELECT that takes more than a millisecond."""
    import psycopg

    plans = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for sql in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.execute(
                b"EXPLAIN (ANALYZE, BUFFERS) " + sql.encode()
            ).fetchall()
            plan = "\n".join(row[0] for row in rows)
            match = re.search(r"Execution Time: ([\d.]+) ms", plan)
            elapsed = float(match[1]) if match else 0.0
            if elapsed >= 1:
                plans.append({"sql": sql, "ms": elapsed, "plan": plan})
    return plans


def run_scenario(scenario, args, base_urls, database_url, redis_url) -> dict:
    from django.core.cache import cache

    print(f"- {scenario.name}", flush=True)
    cache.clear()
    captured = capture(scenario, min(args.captures, args.requests))
    statuses = {c["status"] for c in captured}
    statements = [c["statements"] for c in captured]
    query_counts = [len(s) for s in statements]
    expected_queries = min(query_counts) if query_counts else 0
    levels = [
        measure_level(
            scenario,
            args,
            concurrency,
            base_urls,
            database_url,
            redis_url,
            statements,
            expected_queries,
        )
        for concurrency in args.concurrency
    ]
    return {
        "key": scenario.key,
        "name": scenario.name,
        "cached": scenario.cached,
        "search": scenario.search,
        "example_path": scenario.path_for(0),
        "captured_statuses": sorted(statuses),
        "queries_per_request": sorted(set(query_counts)),
        "levels": levels,
        "example_statements": statements[0] if statements else [],
        "plans": explain(database_url, statements[0]) if statements else [],
    }


def measure_level(
    scenario,
    args,
    concurrency,
    base_urls,
    database_url,
    redis_url,
    statements,
    expected_queries,
) -> dict:
    import redis.asyncio

    load = {
        "count": args.requests,
        "duration": args.duration,
        "concurrency": concurrency,
        "warmup": args.warmup,
    }

    async def measure():
        client = redis.asyncio.from_url(redis_url)
        try:
            if scenario.cached:
                # Warm the entries the measured requests use.
                await harness.http_load(
                    base_urls,
                    scenario.path_for,
                    count=min(args.requests, 40),
                    duration=args.duration,
                    concurrency=concurrency,
                    warmup=0,
                )
                before_each = None
            else:
                await client.flushdb()
                before_each = client.flushdb
            samples = await harness.http_load(
                base_urls, scenario.path_for, before_each=before_each, **load
            )
        finally:
            await client.aclose()
        raw = await harness.sql_load(
            database_url, lambda index: statements[index % len(statements)], **load
        )
        return samples, raw

    samples, raw = asyncio.run(measure())
    ok = [s for s in samples if s.status == 200]
    view = harness.summary([s.latency_ms for s in ok])
    server = harness.summary([s.server_ms for s in ok])
    db = harness.summary([s.db_ms for s in ok])
    raw_summary = harness.summary(raw) if any(statements) else harness.summary([])
    fewer = sum(1 for s in ok if s.queries is not None and s.queries < expected_queries)
    ratio = (
        view["p95"] / raw_summary["p95"] if view["p95"] and raw_summary["p95"] else None
    )
    print(
        f"  {concurrency} clients: view p50/p95/p99 {harness.fmt(view['p50'])}/"
        f"{harness.fmt(view['p95'])}/{harness.fmt(view['p99'])} ms, raw SQL "
        f"{harness.fmt(raw_summary['p50'])}/{harness.fmt(raw_summary['p95'])}/"
        f"{harness.fmt(raw_summary['p99'])} ms, statuses "
        f"{harness.status_counts(samples)}",
        flush=True,
    )
    return {
        "concurrency": concurrency,
        "view_ms": view,
        "server_ms": server,
        "server_db_ms": db,
        "raw_sql_ms": raw_summary,
        "ratio_p95_view_to_raw": ratio,
        "http_statuses": harness.status_counts(samples),
        "uncached_requests_with_fewer_queries": None if scenario.cached else fewer,
    }


def markdown(report: dict) -> str:
    rows = [
        "| Scenario | Clients | Requests | View p50 / p95 / p99 (ms) | Server p95 (ms) "
        "| Raw SQL p50 / p95 / p99 (ms) | View / raw (p95) | Queries | Non-200 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    misses: dict[int, list[str]] = {}
    measured: set[int] = set()
    for s in report["scenarios"]:
        for level in s["levels"]:
            v, r = level["view_ms"], level["raw_sql_ms"]
            non_ok = sum(
                n for code, n in level["http_statuses"].items() if code != "200"
            )
            ratio = level["ratio_p95_view_to_raw"]
            rows.append(
                f"| {s['name']} | {level['concurrency']} | {v['n']} "
                f"| {harness.fmt(v['p50'])} / {harness.fmt(v['p95'])} / "
                f"{harness.fmt(v['p99'])} "
                f"| {harness.fmt(level['server_ms']['p95'])} "
                f"| {harness.fmt(r['p50'])} / {harness.fmt(r['p95'])} / "
                f"{harness.fmt(r['p99'])} "
                f"| {f'{ratio:.1f}×' if ratio else '–'} "
                f"| {', '.join(map(str, s['queries_per_request']))} | {non_ok} |"
            )
            if s["search"] and not s["cached"]:
                measured.add(level["concurrency"])
                if (v["p95"] or 1e9) >= SEARCH_TARGET_MS or non_ok:
                    misses.setdefault(level["concurrency"], []).append(s["name"])
    verdicts = []
    for clients in sorted(measured):
        if clients in misses:
            verdicts.append(
                f"at {clients} clients missed by {'; '.join(misses[clients])}"
            )
        else:
            verdicts.append(f"at {clients} clients met by every one")
    target = (
        f"Target (every uncached search page p95 under {SEARCH_TARGET_MS} ms): "
        + (
            "; ".join(verdicts) + "."
            if verdicts
            else "not measured in this run (no uncached search scenario ran)."
        )
    )
    m = report["machine"]
    run = report["run"]
    processes = run["processes"]
    lines = [
        f"Measured {report['generated_at']} on commit {report['code']} "
        f"with `{report['command']}`: "
        f"{run['listings_total']:,} listings ({run['listings_published']:,} published), "
        f"{processes} daphne process{'es' if processes != 1 else ''} "
        "(requests spread round-robin).",
        "",
        *rows,
        "",
        target,
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; "
        f"PostgreSQL {m['postgresql']} (shared_buffers "
        f"{m['postgresql_settings']['shared_buffers']}, work_mem "
        f"{m['postgresql_settings']['work_mem']}); Python {m['python']}. "
        "The load generator, daphne, PostgreSQL and Redis share these cores.",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    database_url, redis_url = harness.require_backends()
    harness.setup_django()
    started = time.monotonic()
    data = prepare_data(args)
    chosen = [s for s in scenarios(data) if args.only is None or s.key in args.only]
    ports = [harness.free_port(args.port + i) for i in range(args.processes)]
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    results = []
    with harness.daphne_servers(ports, harness.RESULTS_DIR) as base_urls:
        for scenario in chosen:
            results.append(
                run_scenario(scenario, args, base_urls, database_url, redis_url)
            )
    command = "python -m bench.listings" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    report = {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "code": harness.code_version(),
        "run": {
            "listings_total": data["total"],
            "listings_published": data["published"],
            "search_locality": data["locality"],
            "concurrency": args.concurrency,
            "processes": args.processes,
            "requests_per_scenario": args.requests,
            "max_seconds_per_scenario": args.duration,
            "seconds": round(time.monotonic() - started),
        },
        "machine": harness.machine_notes(database_url),
        "scenarios": results,
    }
    (harness.RESULTS_DIR / "listings.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    table = markdown(report)
    (harness.RESULTS_DIR / "listings.md").write_text(table + "\n")
    if not args.no_readme:
        harness.replace_readme_section("results:listings", table)
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
