"""
The numbers at scale: a million listings, ten million counted events; the
nightly rollups, the rent index and the dashboards timed.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.numbers

1. Loads `--days` days of listing rows (ListingDay) holding about `--events`
   counted events in all, spread over the listings with a long tail (a few
   listings get most views), unless the database already holds them.
2. Counts `--flush-events` more events through the counting store (Redis) in
   page-sized batches and times the flush that moves them into the rows.
3. Times the nightly commands: listings_rollup (the last two days, as nightly,
   and all days once), business_rollup and rent_index_build.
4. Times the dashboards in this process through Django's test client, each
   `--repeat` times: the staff dashboard (30 and 90 days, by day, week and
   month), an owner's performance page (30 and 90 days: the busiest listing,
   and a listing of the largest group of similar listings), and the rent
   index page and CSV (cold and cached). Each test client first asks for
   /healthz, so the middleware and URL patterns it loads on its first request
   (as a server process does once at start) are not timed as a page.

Results go to bench/results/numbers.json and the table into bench/README.md.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta

from bench import harness

TARGET_NIGHTLY_S = 300
TARGET_PAGE_MS = 300
LOADS = ("load_at_start", "load_at_pages")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.numbers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--flush-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-readme", action="store_true")
    return parser.parse_args(argv)


def load_rows(args) -> dict:
    """ListingDay rows for the last `days` days summing to about `events`."""
    from django.db import connection
    from django.utils import timezone

    from listings.models import ListingDay

    existing = ListingDay.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(views + search_appearances + shortlists + contacts "
            "+ visit_requests + visits_done + rented), 0) FROM listings_listingday"
        )
        events = cursor.fetchone()[0]
    if events >= args.events * 0.9:
        return {"rows": existing, "events": int(events), "loaded_seconds": None}
    started = time.perf_counter()
    today = timezone.localdate()
    first = today - timedelta(days=args.days - 1)
    # Each day about a tenth of the published listings are seen; the per-row
    # numbers are heavy-tailed. Views ~ 1/u (capped), search appearances ~ 4x.
    per_day = args.events / args.days
    share = 0.1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM listings_listing WHERE status = 'published'"
        )
        published = cursor.fetchone()[0]
        rows_per_day = int(published * share)
        # Events per row: views v + appearances 4v + a few others ~ 5.2 v.
        mean_views = per_day / rows_per_day / 5.2
        cursor.execute("DELETE FROM listings_listingday")
        cursor.execute(
            """
            INSERT INTO listings_listingday (listing_id, day, views, unique_viewers,
                search_appearances, shortlists, contacts, visit_requests,
                visits_done, rented)
            SELECT l.id, d.day, v.views, GREATEST(1, v.views * 4 / 5), v.views * 4,
                   v.views / 10, v.views / 14, v.views / 30, v.views / 50,
                   CASE WHEN random() < 0.0005 THEN 1 ELSE 0 END
            FROM generate_series(%s::date, %s::date, '1 day') AS d(day)
            CROSS JOIN LATERAL (
                SELECT id FROM listings_listing
                WHERE status = 'published' AND random() < %s
            ) AS l
            CROSS JOIN LATERAL (
                SELECT LEAST(500, GREATEST(1, floor(%s * 0.5 / (random() + 0.02))))::int
                    AS views
                WHERE l.id IS NOT NULL
            ) AS v
            """,
            [first, today, share, mean_views],
        )
        cursor.execute("ANALYZE listings_listingday")
        cursor.execute(
            "SELECT count(*), COALESCE(SUM(views + search_appearances + shortlists "
            "+ contacts + visit_requests + visits_done + rented), 0) "
            "FROM listings_listingday"
        )
        rows, events = cursor.fetchone()
    return {
        "rows": rows,
        "events": int(events),
        "loaded_seconds": round(time.perf_counter() - started, 1),
    }


def flush_at_scale(args) -> dict:
    """Events counted through the store in page-sized batches, then flushed."""
    from django.utils import timezone

    from listings.models import Listing
    from nobroker import counting

    counting.flush()
    ids = list(
        Listing.objects.published().order_by("?").values_list("pk", flat=True)[:200_000]
    )
    rng = random.Random(7)
    store = counting.backend()
    day = timezone.localdate()
    started = time.perf_counter()
    sent = 0
    while sent < args.flush_events:
        # A search page's worth: twenty listings shown, one pipeline.
        batch = [
            ("listing.search", day, str(ids[int(len(ids) * rng.random() ** 3)]), 1)
            for _ in range(20)
        ]
        store.add(counts=batch, uniques=[])
        sent += len(batch)
    counted = time.perf_counter() - started
    started = time.perf_counter()
    result = counting.flush()
    flushed = time.perf_counter() - started
    return {
        "events": sent,
        "count_seconds": round(counted, 1),
        "flush_seconds": round(flushed, 1),
        "flush_events": result.events,
        "batches": result.batches,
    }


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def nightly() -> dict:
    from django.core.management import call_command

    return {
        "listings_rollup (2 days)": timed(
            lambda: call_command("listings_rollup", days=2, verbosity=0)
        ),
        "listings_rollup (30 days, once)": timed(
            lambda: call_command("listings_rollup", days=30, verbosity=0)
        ),
        "business_rollup (2 days)": timed(
            lambda: call_command("business_rollup", days=2, verbosity=0)
        ),
        "business_rollup (30 days, once)": timed(
            lambda: call_command("business_rollup", days=30, verbosity=0)
        ),
        "rent_index_build": timed(lambda: call_command("rent_index_build")),
    }


def pages(args) -> dict:
    from django.core.cache import cache
    from django.db.models import Count, Sum
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from listings.models import ListingDay
    from rentindex import services as rent_index

    staff = User.objects.filter(is_staff=True).first()
    if staff is None:
        staff = User.objects.create_user(
            email="bench-staff@bulk.example", password=None, is_staff=True
        )
    today = timezone.localdate()
    busiest = (
        ListingDay.objects.filter(day__gte=today - timedelta(days=29))
        .values("listing_id")
        .annotate(n=Sum("views"))
        .order_by("-n")
        .first()
    )
    from listings.models import Listing

    listing = Listing.objects.select_related("owner").get(pk=busiest["listing_id"])
    # The owner page's worst case: a listing among the most listings like it
    # (same locality, type and bedrooms), whose medians cover the most rows.
    largest = (
        Listing.objects.published()
        .values("locality_id", "property_type", "bedrooms")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    crowded = (
        Listing.objects.published()
        .filter(**{k: largest[k] for k in ("locality_id", "property_type", "bedrooms")})
        .select_related("owner")
        .order_by("pk")
        .first()
    )
    staff_client = Client()
    staff_client.force_login(staff)
    owner_client = Client()
    owner_client.force_login(listing.owner)
    crowded_client = Client()
    crowded_client.force_login(crowded.owner)
    anonymous = Client()
    # Each test client loads the middleware (whitenoise scans the static files)
    # and the URL patterns on its first request, as a server process does once
    # when it starts; a health check pays that here, not the first page timed.
    for client in (staff_client, owner_client, crowded_client, anonymous):
        assert client.get("/healthz").status_code == 200

    def run(client, url, params=None, before=None):
        times = []
        for _ in range(args.repeat):
            if before:
                before()
            started = time.perf_counter()
            response = client.get(url, params or {})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        return harness.summary(times)

    def cold_index():
        cache.clear()
        rent_index.forget_local()

    results = {}
    for days in (30, 90):
        first = (today - timedelta(days=days - 1)).isoformat()
        for period in ("day", "week", "month"):
            results[f"staff dashboard, {days} days by {period}"] = run(
                staff_client,
                "/staff/business/",
                {"first": first, "last": today.isoformat(), "period": period},
            )
        results[f"owner performance, {days} days"] = run(
            owner_client,
            f"/rent/mine/{listing.pk}/performance/",
            {"days": days},
        )
        results[
            f"owner performance, {days} days, {largest['n']:,} similar listings"
        ] = run(
            crowded_client,
            f"/rent/mine/{crowded.pk}/performance/",
            {"days": days},
        )
    results["staff CSV (localities, 90 days)"] = run(
        staff_client,
        "/staff/business/localities.csv",
        {
            "first": (today - timedelta(days=89)).isoformat(),
            "last": today.isoformat(),
            "period": "day",
        },
    )
    results["rent index, cold cache"] = run(
        anonymous, "/rent-index/", before=cold_index
    )
    results["rent index, cached"] = run(anonymous, "/rent-index/")
    results["rent index CSV, cold cache"] = run(
        anonymous, "/rent-index/rent-index.csv", before=cold_index
    )
    results["rent index CSV, cached"] = run(anonymous, "/rent-index/rent-index.csv")
    return results


def markdown(report: dict) -> str:
    machine = report["machine"]
    data = report["data"]
    lines = [
        f"Measured {report['measured_at']} at commit {report['commit']} on a shared "
        f"machine ({machine['cores']} cores, {machine['cpu']}; other work was "
        "running): {listings:,} listings, {rows:,} listing-day rows holding "
        "{events:,} counted events.".format(
            listings=report["listings"], rows=data["rows"], events=data["events"]
        ),
        "",
        "Load average (1, 5, 15 min) at the start: {}; when the pages were timed: "
        "{}.".format(*(" ".join(f"{x:.2f}" for x in report[k]) for k in LOADS)),
        "",
        "| nightly step | seconds | target |",
        "| --- | --- | --- |",
    ]
    for name, seconds in report["nightly"].items():
        lines.append(f"| {name} | {seconds:.1f} | < {TARGET_NIGHTLY_S} |")
    total = sum(s for name, s in report["nightly"].items() if "once" not in name)
    lines.append(f"| **nightly total** | **{total:.1f}** | < {TARGET_NIGHTLY_S} |")
    flush = report["flush"]
    lines += [
        "",
        f"Flush: {flush['events']:,} events counted in Redis in "
        f"{flush['count_seconds']} s (one pipeline of 20 per search page), flushed "
        "into "
        f"the rows in {flush['flush_seconds']} s ({flush['flush_events']:,} applied; "
        "any difference was dropped while Redis did not answer in 0.5 s).",
        "",
        f"| page (in-process, {report['repeat']} requests) | p50 ms | p95 ms | "
        "p99 ms | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, stats in report["pages"].items():
        lines.append(
            f"| {name} | {harness.fmt(stats['p50'])} | {harness.fmt(stats['p95'])} | "
            f"{harness.fmt(stats['p99'])} | < {TARGET_PAGE_MS} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv or [])
    load_at_start = os.getloadavg()
    database_url, _redis_url = harness.require_backends()
    harness.setup_django()
    from django.core.management import call_command

    from listings.models import Listing

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    listings = Listing.objects.count()
    if listings < 100_000:
        raise SystemExit("Load the bulk listings first (manage.py seed_bulk).")
    data = load_rows(args)
    print(f"data: {data}")
    flush = flush_at_scale(args)
    print(f"flush: {flush}")
    steps = nightly()
    print(f"nightly: {steps}")
    load_at_pages = os.getloadavg()
    page_times = pages(args)
    report = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": harness.code_version(),
        "machine": harness.machine_notes(database_url),
        "listings": listings,
        "data": data,
        "flush": flush,
        "nightly": steps,
        "pages": page_times,
        "repeat": args.repeat,
        "load_at_start": load_at_start,
        "load_at_pages": load_at_pages,
    }
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / "numbers.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    table = markdown(report)
    print(table)
    if not args.no_readme:
        harness.replace_readme_section("results:numbers", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
