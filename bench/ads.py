"""
What ads cost a page: the search page and the listing page with ads on and off.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.ads

Two daphne processes serve the same database and Redis: one with ads
(`ADS_ENABLED=1`), one without (`ADS_ENABLED=0`). Running campaigns in every
placement (one targeted at the searched locality) and two boosted listings
matching the search are put in place first. For each scenario the load
alternates between the two servers in rounds, so both see the same machine;
each request comes from one of a few hundred different browsers (so the
frequency caps do not switch the ads off) and carries the server's own time and
query count back in its Server-Timing header.

The figure that matters is the difference of the server's p95 with and without
ads (target: at most 2 ms) and of the query counts (target: none). Results go to
bench/results/ads.json and .md, and the table into bench/README.md.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import shlex
import sys
import time
from contextlib import ExitStack
from urllib.parse import urlencode

from bench import harness

TARGET_P95_MS = 2.0


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Search and listing pages with ads on and off, in one run."
    )
    parser.add_argument(
        "--requests", type=int, default=600, help="per scenario and side"
    )
    parser.add_argument("--rounds", type=int, default=6, help="on/off alternations")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60, help="seconds per side")
    parser.add_argument("--port", type=int, default=8191)
    parser.add_argument(
        "--iterations", type=int, default=2000, help="in-process timings per side"
    )
    return parser.parse_args(argv)


def prepare_data() -> dict:
    """Migrates, puts campaigns and boosts in place, builds static files."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import User
    from ads import services
    from ads.demo import _Form, _picture
    from ads.models import Advertiser, Boost, Campaign, Creative
    from ads.serving import index_rebuild
    from listings.models import Listing, Locality

    call_command("migrate", interactive=False, verbosity=0)
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
    locality = Locality.objects.get(slug=busiest["locality__slug"])
    user, _created = User.objects.get_or_create(
        email="advertiser@bench.example", defaults={"full_name": "Bench Advertiser"}
    )
    advertiser, created = Advertiser.objects.get_or_create(
        user=user,
        defaults={
            "business_name": "Bench Business",
            "contact_name": "Bench",
            "phone": "+9779801000099",
        },
    )
    if created:
        services.ledger_topup(
            advertiser=advertiser, paid=113_000_000_00, reference="bench"
        )
        now = timezone.now()
        for n, (placements, targeted) in enumerate(
            [
                (["search", "listing"], True),
                (["search", "listing", "home"], False),
                (["search", "inbox"], False),
            ]
        ):
            campaign = Campaign.objects.create(
                advertiser=advertiser,
                name=f"Bench campaign {n}",
                placements=placements,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=365),
                total_budget=10_000_000_00,
                daily_budget=1_000_000_00,
                price=100_00,
                frequency_cap=50,
            )
            if targeted:
                campaign.localities.set([locality])
            services.creative_add(
                campaign=campaign,
                form=_Form(
                    Creative(
                        headline=f"Bench ad {n}",
                        text="An ad of the benchmark.",
                        target_url="https://bench.example.np/",
                        display_domain="bench.example.np",
                        alt_text="Bench ad",
                    )
                ),
                image=_picture(((0, 56, 147), (255, 255, 255)), f"bench {n}"),
            )
            campaign.status = Campaign.Status.RUNNING
            campaign.save(update_fields=["status"])
    owner_listings = list(
        Listing.objects.published()
        .filter(
            locality=locality,
            property_type=Listing.PropertyType.FLAT,
            rent__gte=10_000,
            rent__lte=30_000,
        )  # fmt: skip
        .order_by("pk")[:2]
    )
    for listing in owner_listings:
        if not Boost.objects.active().filter(listing=listing).exists():
            Boost.objects.create(
                listing=listing,
                advertiser=advertiser,
                days=30,
                price_per_day=0 + services.BOOST_PRICE_PER_DAY,
                ends_at=timezone.now() + timedelta(days=30),
            )
    index = index_rebuild()
    sample = list(
        Listing.objects.published().filter(locality=locality).order_by("pk")[:20]
    )
    return {
        "locality": locality.slug,
        "campaigns": len(index["campaigns"]) if index else 0,
        "boosts": len(index["boosts"]) if index else 0,
        "published": Listing.objects.published().count(),
        "detail_paths": [listing.get_absolute_url() for listing in sample],
    }


def scenarios(data: dict) -> list[tuple[str, str, object]]:
    def search(index):
        return "/rent/?" + urlencode(
            [
                ("locality", data["locality"]),
                ("type", "flat"),
                ("rent_min", 10_000),
                ("rent_max", 30_000),
            ]
        )

    details = data["detail_paths"]
    return [
        (
            "search_cached",
            "Search page (locality + type + rent; results cached)",
            search,
        ),
        (
            "detail_cached",
            "Listing page (cached, 20 listings)",
            lambda index: details[index % len(details)],
        ),
    ]


def _address(index: int) -> str:
    return f"10.20.{index // 250 % 250}.{index % 250 + 1}"


def _agent(index: int) -> str:
    return (
        "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Chrome/131.0.{index % 300}.0 Mobile Safari/537.36"
    )


async def load(base_url: str, path_for, *, offset: int, **options) -> list:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=options["concurrency"])
    timeout = aiohttp.ClientTimeout(total=60)
    # No cookie jar: every request is a browser of its own, so no frequency
    # cap cookie builds up and every "on" page really carries its ads.
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def work(index: int):
            index += offset
            started = time.perf_counter()
            try:
                async with session.get(
                    base_url + path_for(index),
                    allow_redirects=False,
                    # Many people, as on a real site: behind one trusted proxy
                    # (PROXY_COUNT=1), each from an address and browser of their own.
                    headers={
                        "User-Agent": _agent(index),
                        "X-Forwarded-For": _address(index),
                    },
                ) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                return harness.Sample((time.perf_counter() - started) * 1000, 0), 0
            sample = harness.Sample(
                (time.perf_counter() - started) * 1000, response.status
            )
            match = harness.SERVER_TIMING.search(
                response.headers.get("Server-Timing", "")
            )
            if match:
                sample.server_ms = float(match["total"])
                sample.db_ms = float(match["db"])
                sample.queries = int(match["queries"])
            return sample, body.count(b'class="ad-label"')

        return await harness.run_workers(work, **options)


def measure_in_process(data: dict, iterations: int) -> list[dict]:
    """
    The ads' own part of each page, timed in this process against the same
    Redis: the search page's result cards (boosts, ad cards and their
    counting) and the listing page's ad box, with ads on and off in turn.
    A shared machine's load moves whole pages by tens of milliseconds; this
    isolates what ads add. Counts the SQL run while ads are on (none allowed).
    """
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.template import Context
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from ads.serving import index_forget_locally
    from ads.templatetags.ads import ad_slot, search_result_cards
    from listings.models import Listing
    from listings.search import build_search, run_search

    factory = RequestFactory()
    search_path = scenarios(data)[0][2](0)
    search = build_search(factory.get(search_path).GET)
    result = run_search(search)
    listing = Listing.objects.select_related("locality").get(
        pk=int(data["detail_paths"][0].strip("/").split("/")[1])
    )

    def request_for(index):
        request = factory.get(
            search_path, HTTP_USER_AGENT=_agent(index), REMOTE_ADDR=_address(index)
        )
        request.user = AnonymousUser()
        return request

    def search_cards(index):
        request = request_for(index)
        context = Context(
            {
                "request": request,
                "user": request.user,
                "search": search,
                "result": result,
            }
        )
        return search_result_cards(context, result["listings"])

    def listing_box(index):
        return ad_slot(Context({"request": request_for(index)}), "listing", listing)

    rows = []
    index_forget_locally()
    for key, name, work in (
        (
            "search_cards",
            "Search page: result cards with boosts and ad cards",
            search_cards,
        ),
        ("listing_box", "Listing page: the ad box", listing_box),
    ):
        for i in range(50):  # warm up both ways
            settings.ADS_ENABLED = i % 2 == 0
            work(i)
        times = {"on": [], "off": []}
        queries = 0
        for i in range(iterations * 2):
            side = "on" if i % 2 == 0 else "off"
            settings.ADS_ENABLED = side == "on"
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                work(i)
                times[side].append((time.perf_counter() - started) * 1000)
            if side == "on":
                queries += len(captured)
        settings.ADS_ENABLED = True
        row = {
            "key": key,
            "name": name,
            "on": harness.summary(times["on"]),
            "off": harness.summary(times["off"]),
            "queries_with_ads": queries,
        }
        row["p95_difference_ms"] = row["on"]["p95"] - row["off"]["p95"]
        rows.append(row)
        print(
            f"{name}: on {row['on']['p50']:.3f}/{row['on']['p95']:.3f} ms, off "
            f"{row['off']['p50']:.3f}/{row['off']['p95']:.3f} ms (p50/p95); "
            f"{queries} queries with ads",
            flush=True,
        )
    return rows


def run(args, urls, data) -> list[dict]:
    rows = []
    per_round = max(args.requests // args.rounds, 1)
    for key, name, path_for in scenarios(data):
        results = {"on": [], "off": []}
        for round_number in range(args.rounds):
            for side in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                results[side] += asyncio.run(
                    load(
                        urls[side],
                        path_for,
                        offset=round_number * per_round,
                        count=per_round,
                        duration=args.duration / args.rounds,
                        concurrency=args.concurrency,
                        # Every page of the scenario once per round, so a
                        # page cached by the other side's round is not
                        # rendered again inside this side's measurement.
                        warmup=max(8, len(data["detail_paths"])),
                    )
                )
        row = {"key": key, "name": name}
        for side, pairs in results.items():
            samples = [s for s, _ in pairs]
            row[side] = {
                "requests": len(samples),
                "view": harness.summary([s.latency_ms for s in samples]),
                "server": harness.summary([s.server_ms for s in samples]),
                "queries": sorted(
                    {s.queries for s in samples if s.queries is not None}
                ),
                "query_counts": {
                    str(q): sum(1 for s in samples if s.queries == q)
                    for q in sorted(
                        {s.queries for s in samples if s.queries is not None}
                    )
                },
                "statuses": harness.status_counts(samples),
                "ads_per_page": (sum(n for _, n in pairs) / len(pairs) if pairs else 0),
            }
        row["p95_difference_ms"] = (
            row["on"]["server"]["p95"] - row["off"]["server"]["p95"]
        )
        row["p50_difference_ms"] = (
            row["on"]["server"]["p50"] - row["off"]["server"]["p50"]
        )
        rows.append(row)
        print(
            f"{name}: server p95 on {row['on']['server']['p95']:.2f} ms, off "
            f"{row['off']['server']['p95']:.2f} ms; queries on {row['on']['queries']}, "
            f"off {row['off']['queries']}; {row['on']['ads_per_page']:.1f} labelled ads a page",
            flush=True,
        )
    return rows


def markdown(report: dict) -> str:
    lines = [
        f"Measured {report['measured_at']} on commit {report['commit']} with "
        f"`{report['command']}`: {report['data']['published']:,} published listings, "
        f"{report['data']['campaigns']} running campaigns, {report['data']['boosts']} "
        "boosted listings; one daphne process with ads and one without, the load "
        "alternating between them in rounds. The machine was shared with other work.",
        "",
        "| Page | Ads | Requests | View p50 / p95 / p99 (ms) | Server p50 / p95 / p99 (ms) | Queries | Labelled ads a page | Non-200 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        for side in ("off", "on"):
            r = row[side]
            non_200 = sum(v for k, v in r["statuses"].items() if k != "200")
            lines.append(
                f"| {row['name']} | {side} | {r['requests']} | "
                f"{harness.fmt(r['view']['p50'])} / {harness.fmt(r['view']['p95'])} / "
                f"{harness.fmt(r['view']['p99'])} | {r['server']['p50']:.2f} / "
                f"{r['server']['p95']:.2f} / {r['server']['p99']:.2f} | "
                f"{', '.join(f'{q} ({n}×)' for q, n in r['query_counts'].items())} | "
                f"{r['ads_per_page']:.1f} | {non_200} |"
            )
    lines.append("")
    for row in report["rows"]:
        verdict = "met" if row["p95_difference_ms"] <= TARGET_P95_MS else "missed"
        same = row["on"]["queries"] == row["off"]["queries"]
        lines.append(
            f"- {row['name']}: ads add {row['p95_difference_ms']:+.2f} ms to the server's "
            f"p95 ({row['p50_difference_ms']:+.2f} ms to its p50): target of "
            f"{TARGET_P95_MS:.0f} ms {verdict}; queries "
            f"{'the same' if same else 'differ'} ({row['on']['queries']} with, "
            f"{row['off']['queries']} without)."
        )
    lines += [
        "",
        "The ads' own part of the page, timed in the benchmark's process against the "
        f"same Redis ({report['in_process'][0]['on']['n']} renderings each way, "
        "alternating):",
        "",
        "| Part of the page | Ads off p50 / p95 / p99 (ms) | Ads on p50 / p95 / p99 (ms) | Added to p95 (ms) | SQL queries with ads |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in report["in_process"]:
        lines.append(
            f"| {row['name']} | {row['off']['p50']:.2f} / {row['off']['p95']:.2f} / "
            f"{row['off']['p99']:.2f} | {row['on']['p50']:.2f} / {row['on']['p95']:.2f} / "
            f"{row['on']['p99']:.2f} | {row['p95_difference_ms']:+.2f} | "
            f"{row['queries_with_ads']} |"
        )
    machine = report["machine"]
    lines += [
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB RAM; "
        f"PostgreSQL {machine['postgresql']}; Python {machine['python']}.",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    database_url, _redis_url = harness.require_backends()
    harness.setup_django()
    data = prepare_data()
    urls = {}
    log_dir = harness.RESULTS_DIR / "logs"
    with ExitStack() as stack:
        os.environ["PROXY_COUNT"] = "1"
        # The scenarios are cached pages: kept for the whole run, so a page's
        # entry does not expire in the middle of one side's round.
        os.environ["PAGE_CACHE_SECONDS"] = "900"
        for side, enabled, port in (
            ("on", "1", args.port),
            ("off", "0", args.port + 1),
        ):
            os.environ["ADS_ENABLED"] = enabled
            urls[side] = stack.enter_context(
                harness.daphne_server(
                    harness.free_port(port), log_dir / f"daphne-ads-{side}.log"
                )
            )
        os.environ.pop("ADS_ENABLED", None)
        os.environ.pop("PROXY_COUNT", None)
        os.environ.pop("PAGE_CACHE_SECONDS", None)
        rows = run(args, urls, data)
    in_process = measure_in_process(data, args.iterations)
    report = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": harness.code_version(),
        "command": "python -m bench.ads " + shlex.join(argv or sys.argv[1:]),
        "data": data,
        "rows": rows,
        "in_process": in_process,
        "machine": harness.machine_notes(database_url),
    }
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / "ads.json").write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (harness.RESULTS_DIR / "ads.md").write_text(text + "\n")
    harness.replace_readme_section("results:ads", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
