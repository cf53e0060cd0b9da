"""
Search in Nepali and saved-search alerts at a million listings.

    python -m bench.searches [--devanagari 20000] [--saved 100000] [--users 10000]

Runs in-process against the database in DATABASE_URL (a copy of the million
listings, never a shared one): adds Devanagari listings, times searches in
both scripts with the result cache off (English words are the baseline of the
same run), then saves 100,000 searches for 10,000 people, all due at once,
and times one alert run over the listings published since each one's last
check, one period ago (baseline: the same run when nothing new was published). Rows it adds are
marked and removed at the start of the next run.
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import time
from urllib.parse import urlencode

from bench import harness

BENCH_DOMAIN = "bench-searches.invalid"
MARK = "[bench-ne]"
NEPALI_TITLES = [
    "बार्दली भएको कोठा", "घाम लाग्ने फ्ल्याट", "शान्त गल्लीमा कोठा", "परिवारका लागि घर",
    "विद्यार्थीलाई कोठा", "पार्किङसहित फ्ल्याट", "नयाँ अपार्टमेन्ट", "सटर भाडामा",
]  # fmt: skip
NEPALI_WORDS = [
    "पानी", "दिनभरि", "आउँछ", "भान्सा", "छुट्टै", "बाटो", "कालोपत्रे", "छत", "गिजर",
    "इन्टरनेट", "शान्त", "छिमेक", "बजार", "नजिकै", "सफा", "उज्यालो", "मोटरसाइकल",
]  # fmt: skip
SEARCHES = {
    "english word (baseline)": "q=balcony",
    "english two words": "q=quiet+balcony",
    "devanagari word, both scripts (पानी)": "q=पानी",
    "devanagari two words": "q=घाम+लाग्ने",
    "devanagari prefix": "q=उज्या",
    "devanagari locality + type (बानेश्वरमा कोठा)": "q=बानेश्वरमा+कोठा",
    "romanised locality + type": "q=baneswor+kotha",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.searches")
    parser.add_argument("--devanagari", type=int, default=20_000)
    parser.add_argument("--saved", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Reuse the listings and saved searches the last run added.",
    )
    return parser.parse_args(argv)


def reset():
    from accounts.models import User
    from listings.models import Listing

    Listing.objects.filter(title__startswith=MARK).delete()
    User.objects.filter(email__endswith=f"@{BENCH_DOMAIN}").delete()
    # The alert emails the last run queued (this database is a copy for the
    # benchmark: nothing else queues tasks in it).
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


def add_devanagari_listings(count: int) -> None:
    from django.utils import timezone

    from accounts.models import User
    from listings.models import Listing, Locality

    rng = random.Random(13)
    owner = User.objects.create_user(
        email=f"owner@{BENCH_DOMAIN}", full_name="Bench owner", role="owner"
    )
    localities = list(Locality.objects.all())
    now = timezone.now()
    rows = []
    for i in range(count):
        rows.append(
            Listing(
                owner=owner,
                status="published",
                title=f"{MARK} {rng.choice(NEPALI_TITLES)}",
                slug=f"bench-ne-{i}",
                description=" ".join(rng.sample(NEPALI_WORDS, 8)),
                property_type=rng.choice(["room", "flat", "house"]),
                locality=rng.choice(localities),
                rent=rng.randrange(5000, 80000, 500),
                bike_parking=1,
                car_parking=0,
                water_source="municipal",
                water_hours=rng.randint(1, 24),
                electricity_billing="submeter",
                published_at=now - dt.timedelta(days=30 + rng.random() * 300),
                expires_at=now + dt.timedelta(days=30),
            )
        )
    Listing.objects.bulk_create(rows, batch_size=2000)


def time_searches(repeat: int) -> dict:
    from django.core.cache.backends.dummy import DummyCache
    from django.http import QueryDict

    from listings import search as search_module

    search_module.cache = DummyCache("bench", {})
    results = {}
    for name, query in SEARCHES.items():
        times = []
        total = 0
        for _ in range(repeat):
            started = time.perf_counter()
            result = search_module.run_search(
                search_module.build_search(QueryDict(query))
            )
            times.append((time.perf_counter() - started) * 1000)
            total = result["total"]
        results[name] = {"query": query, "results": total, **harness.summary(times)}
    return results


def add_saved_searches(count: int, users: int) -> None:
    from django.utils import timezone

    from accounts.models import User
    from listings.models import Locality
    from searches.matching import criteria_for
    from searches.models import SavedSearch, clean_query

    rng = random.Random(7)
    people = User.objects.bulk_create(
        [
            User(
                email=f"p{i}@{BENCH_DOMAIN}",
                full_name=f"Person {i}",
                language=rng.choice(["", "en", "ne"]),
                password="!",
            )
            for i in range(users)
        ],
        batch_size=2000,
    )
    slugs = list(Locality.objects.values_list("slug", flat=True))
    words = ["", "", "", "balcony", "quiet", "पानी", "parking", "कोठा", "furnished"]
    # People save similar searches ("flats in Baneshwor under Rs. 30,000"):
    # the searches are drawn from a few thousand distinct ones, each parsed
    # once as saving it would.
    queries = []
    for _ in range(max(1, count // 20)):
        params = [("locality", s) for s in rng.sample(slugs, rng.choice([1, 1, 2, 3]))]
        if rng.random() < 0.6:
            params.append(("type", rng.choice(["room", "flat", "house", "apartment"])))
        if rng.random() < 0.5:
            params.append(("rent_max", str(rng.randrange(10000, 60000, 5000))))
        if rng.random() < 0.3:
            params.append(("bedrooms", str(rng.randint(1, 3))))
        word = rng.choice(words)
        if word:
            params.append(("q", word))
        query = clean_query(urlencode(params))
        queries.append((query, criteria_for(query)))
    old = timezone.now() - dt.timedelta(days=8)
    rows = []
    for i in range(count):
        query, criteria = rng.choice(queries)
        rows.append(
            SavedSearch(
                user=people[i % users],
                name=f"Search {i}",
                query=query,
                criteria=criteria,
                frequency=rng.choices(["instant", "daily", "weekly"], [2, 6, 2])[0],
                email=rng.random() < 0.8,
                notify=True,
                checked_until=old,
            )
        )
    SavedSearch.objects.bulk_create(rows, batch_size=5000)


def set_watermark(*, nothing_new: bool) -> dt.datetime:
    """Every bench saved search exactly due; returns the run's "now".

    As in life, each search was last checked one period ago: an instant one a
    few minutes ago, a daily one a day ago (about 2,300 listings published
    since, at this database's rate), a weekly one a week ago. The bulk data
    piles several thousand listings onto its last second; the window ends just
    before it. With `nothing_new` every search was checked after the newest
    listing: the run only walks the due searches (the baseline).
    """
    from django.db.models import Max

    from listings.models import Listing
    from searches.models import SavedSearch
    from searches.services import ALERT_LAG

    latest = Listing.objects.published().aggregate(m=Max("published_at"))["m"]
    mine = SavedSearch.objects.filter(user__email__endswith=f"@{BENCH_DOMAIN}")
    if nothing_new:
        mine.update(checked_until=latest, last_alert_at=None)
        return latest + dt.timedelta(days=7) + ALERT_LAG
    until = latest - dt.timedelta(seconds=1)
    for frequency, period in {
        "instant": dt.timedelta(minutes=5),
        "daily": dt.timedelta(days=1),
        "weekly": dt.timedelta(days=7),
    }.items():
        mine.filter(frequency=frequency).update(
            checked_until=until - period, last_alert_at=None
        )
    return until + ALERT_LAG


def alert_run(now) -> dict:
    from django.db import connection

    from accounts.models import Notification
    from searches import services

    per_search = []
    original = services._matching
    before = queued_emails()
    notes_before = Notification.objects.filter(kind="saved_search").count()

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            per_search.append((time.perf_counter() - started) * 1000)

    services._matching = timed
    started = time.perf_counter()
    # Console email (the embedded default) writes each alert; discard it.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        stats = services.saved_search_alerts_run(now=now)
    seconds = time.perf_counter() - started
    services._matching = original
    queued = queued_emails()
    connection.close()
    return {
        "seconds": round(seconds, 1),
        **stats,
        "searches_per_second": round(stats["checked"] / max(seconds, 0.001)),
        "emails_queued": queued["emails"] - before["emails"],
        "email_tasks": queued["tasks"] - before["tasks"],
        "notifications": Notification.objects.filter(kind="saved_search").count()
        - notes_before,
        "per_batch_matching_ms": harness.summary(per_search),
    }


def queued_emails() -> dict:
    """The alert emails queued for the worker so far, and in how many tasks."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(jsonb_array_length("
            "args_kwargs->'kwargs'->'messages')), 0) "
            f"FROM {DBTaskResult._meta.db_table} WHERE task_path LIKE %s",
            ["%send_emails"],
        )
        tasks, emails = cursor.fetchone()
    return {"tasks": tasks, "emails": emails}


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    harness.require_backends()
    # As in production: an alert's email is queued for the worker (a row),
    # not sent by the run itself.
    os.environ["TASKS_BACKEND"] = "database"
    harness.setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    from listings.models import Listing
    from searches.models import SavedSearch

    keep = (
        args.keep
        and SavedSearch.objects.filter(user__email__endswith=f"@{BENCH_DOMAIN}").count()
        == args.saved
    )
    started = time.perf_counter()
    if not keep:
        reset()
        add_devanagari_listings(args.devanagari)
        print(
            f"{args.devanagari} Devanagari listings added in "
            f"{time.perf_counter() - started:.0f} s"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM listings_listing")
        listings_total = cursor.fetchone()[0]
    devanagari = Listing.objects.filter(title__startswith=MARK).count()
    searches = time_searches(args.repeat)
    baseline = searches["english word (baseline)"]["p50"]
    for name, row in searches.items():
        print(
            f"{name:48} {row['results']:>5} results  p50 {row['p50']:7.1f} ms  "
            f"p95 {row['p95']:7.1f}  p99 {row['p99']:7.1f}  ×{row['p50'] / baseline:.2f}"
        )
    if not keep:
        started = time.perf_counter()
        add_saved_searches(args.saved, args.users)
        print(
            f"{args.saved} saved searches added in {time.perf_counter() - started:.0f} s"
        )

    empty = alert_run(set_watermark(nothing_new=True))
    print(f"alert run, nothing new: {empty}")
    full = alert_run(set_watermark(nothing_new=False))
    print(f"alert run, a period of new listings for each: {full}")
    report = {
        "command": "python -m bench.searches "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "listings_total": listings_total,
        "devanagari_listings": devanagari,
        "searches": searches,
        "saved_searches": args.saved,
        "alert_run_nothing_new": empty,
        "alert_run": full,
        "alert_ratio_to_nothing_new": round(
            full["seconds"] / max(empty["seconds"], 0.1), 1
        ),
        "machine": harness.machine_notes(os.environ["DATABASE_URL"]),
    }
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / "searches.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
