"""
The business's figures: rolled up nightly into one row per day (and active
users per day, week and month) from what each app already records, and read
back by period for the staff dashboard.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from business.models import ActiveUsers, BusinessDay
from nobroker import counting

DAY_FIELDS = [
    "signups_tenant",
    "signups_owner",
    "signups_verified",
    "listings_new",
    "listings_published",
    "listings_rented",
    "visit_requests",
    "visits_done",
    "messages",
]
PERIODS = ("day", "week", "month")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _per_day(queryset, field: str, first: date, last: date, **aggregate):
    """{day: {name: value}} for rows whose `field` falls in first..last."""
    rows = (
        queryset.filter(
            **{
                f"{field}__gte": _start_of(first),
                f"{field}__lt": _start_of(last + timedelta(days=1)),
            }
        )
        .annotate(d=TruncDate(field))
        .values("d")
        .annotate(**aggregate)
        .order_by()
    )
    return {row["d"]: row for row in rows}


def _active_pairs(first: date, last: date) -> set[tuple[int, date]]:
    """(user id, day) for everything a signed-in person did in first..last."""
    User = apps.get_model("accounts", "User")
    Listing = apps.get_model("listings", "Listing")
    Shortlist = apps.get_model("listings", "Shortlist")
    Visit = apps.get_model("visits", "Visit")
    Message = apps.get_model("messaging", "Message")
    sources = [
        (User.objects.all(), "pk", "date_joined"),
        (Listing.objects.all(), "owner_id", "created_at"),
        (Shortlist.objects.all(), "user_id", "created_at"),
        (Visit.objects.all(), "tenant_id", "created_at"),
        (Message.objects.all(), "sender_id", "created_at"),
    ]
    pairs: set[tuple[int, date]] = set()
    for queryset, who, when in sources:
        rows = (
            queryset.filter(
                **{
                    f"{when}__gte": _start_of(first),
                    f"{when}__lt": _start_of(last + timedelta(days=1)),
                }
            )
            .annotate(d=TruncDate(when))
            .values_list(who, "d")
            .distinct()
            .order_by()
        )
        pairs.update(rows.iterator(chunk_size=20_000))
    return pairs


@dataclass
class RollupResult:
    days: int
    seconds: float


@transaction.atomic
def business_rollup(*, first: date, last: date) -> RollupResult:
    """
    Rebuilds the daily rows of first..last and the active users of every day,
    week and month touching them. Running it twice gives the same rows.
    """
    started = time.perf_counter()
    User = apps.get_model("accounts", "User")
    Listing = apps.get_model("listings", "Listing")
    ListingDay = apps.get_model("listings", "ListingDay")
    Visit = apps.get_model("visits", "Visit")
    VisitEvent = apps.get_model("visits", "VisitEvent")
    Message = apps.get_model("messaging", "Message")

    signups = _per_day(
        User.objects.all(),
        "date_joined",
        first,
        last,
        tenant=Count("pk", filter=Q(role="tenant")),
        owner=Count("pk", filter=Q(role="owner")),
        verified=Count("pk", filter=Q(email_verified=True)),
    )
    new = _per_day(Listing.objects.all(), "created_at", first, last, n=Count("pk"))
    published = _per_day(
        Listing.objects.all(), "published_at", first, last, n=Count("pk")
    )
    rented = {
        row["day"]: row["n"]
        for row in ListingDay.objects.filter(day__range=(first, last))
        .values("day")
        .annotate(n=Sum("rented"))
        .order_by()
    }
    requests = _per_day(Visit.objects.all(), "created_at", first, last, n=Count("pk"))
    done = _per_day(
        VisitEvent.objects.filter(kind="done"), "created_at", first, last, n=Count("pk")
    )
    messages = _per_day(Message.objects.all(), "created_at", first, last, n=Count("pk"))

    def n(rows, day, name="n"):
        return (rows.get(day) or {}).get(name) or 0

    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    BusinessDay.objects.filter(day__range=(first, last)).delete()
    BusinessDay.objects.bulk_create(
        BusinessDay(
            day=day,
            signups_tenant=n(signups, day, "tenant"),
            signups_owner=n(signups, day, "owner"),
            signups_verified=n(signups, day, "verified"),
            listings_new=n(new, day),
            listings_published=n(published, day),
            listings_rented=rented.get(day) or 0,
            visit_requests=n(requests, day),
            visits_done=n(done, day),
            messages=n(messages, day),
        )
        for day in days
    )

    # Weeks and months touching the range are recounted whole.
    span_first = min(period_start(first, "week"), period_start(first, "month"))
    month_after = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
    span_last = max(
        period_start(last, "week") + timedelta(days=6), month_after - timedelta(1)
    )
    active: dict[tuple[str, date], set[int]] = defaultdict(set)
    for user_id, day in _active_pairs(span_first, span_last):
        for period in PERIODS:
            start = period_start(day, period)
            if period == "day" and not first <= day <= last:
                continue
            active[(period, start)].add(user_id)
    starts = {(p, period_start(day, p)) for day in days for p in PERIODS}
    ActiveUsers.objects.filter(
        Q(period="day", start__range=(first, last))
        | Q(
            period__in=["week", "month"], start__in={s for p, s in starts if p != "day"}
        )
    ).delete()
    ActiveUsers.objects.bulk_create(
        ActiveUsers(
            period=period, start=start, users=len(active.get((period, start), ()))
        )
        for period, start in sorted(starts)
    )
    counting.rows_changed()
    return RollupResult(days=len(days), seconds=time.perf_counter() - started)


# --- Reading ------------------------------------------------------------------

# The figures change only when a rollup runs or a flush lands ad counts (both
# move counting.rows_version on); a staff member paging through ranges reads
# each from the cache after the first time.
FIGURES_TIMEOUT = 3600


def dashboard_figures(*, first: date, last: date, period: str) -> dict:
    """The dashboard's rows by period and its table by locality for the range,
    cached until the daily rows next change."""
    key = f"business:figures:{counting.rows_version()}:{first}:{last}:{period}"
    figures = cache.get(key)
    if figures is None:
        figures = {
            "rows": figures_by_period(first=first, last=last, period=period),
            "localities": localities(first=first, last=last),
        }
        cache.set(key, figures, FIGURES_TIMEOUT)
    return figures


def figures_by_period(*, first: date, last: date, period: str) -> list[dict]:
    """One row per day, week or month in first..last: the daily figures summed,
    the email verification rate and the period's active users."""
    buckets: dict[date, dict] = {}
    for row in BusinessDay.objects.filter(day__range=(first, last)).values(
        "day", *DAY_FIELDS
    ):
        start = period_start(row["day"], period)
        bucket = buckets.setdefault(
            start, {"start": start, **dict.fromkeys(DAY_FIELDS, 0)}
        )
        for name in DAY_FIELDS:
            bucket[name] += row[name]
    # The ads app's own daily rows: viewable impressions, clicks, spend.
    DailyStat = apps.get_model("ads", "DailyStat")
    for row in (
        DailyStat.objects.filter(day__range=(first, last))
        .values("day")
        .annotate(
            impressions=Sum("viewable"), clicks=Sum("clicks"), spend=Sum("spend_milli")
        )
        .order_by()
    ):
        start = period_start(row["day"], period)
        bucket = buckets.setdefault(
            start, {"start": start, **dict.fromkeys(DAY_FIELDS, 0)}
        )
        bucket["ad_impressions"] = bucket.get("ad_impressions", 0) + row["impressions"]
        bucket["ad_clicks"] = bucket.get("ad_clicks", 0) + row["clicks"]
        bucket["ad_spend_milli"] = bucket.get("ad_spend_milli", 0) + row["spend"]
    active = dict(
        ActiveUsers.objects.filter(
            period=period, start__range=(period_start(first, period), last)
        ).values_list("start", "users")
    )
    rows = []
    for start in sorted(buckets):
        bucket = buckets[start]
        signups = bucket["signups_tenant"] + bucket["signups_owner"]
        bucket["signups"] = signups
        bucket["verification_rate"] = (
            bucket["signups_verified"] / signups if signups else None
        )
        bucket["active_users"] = active.get(start, 0)
        impressions = bucket.setdefault("ad_impressions", 0)
        clicks = bucket.setdefault("ad_clicks", 0)
        # Revenue in whole rupees (spend is kept in thousandths of a paisa).
        revenue = bucket.setdefault("ad_spend_milli", 0) / 100_000
        bucket["ad_ctr"] = clicks / impressions if impressions else None
        bucket["ad_revenue"] = round(revenue, 2)
        bucket["ad_revenue_per_active_user"] = (
            round(revenue / bucket["active_users"], 2)
            if bucket["active_users"]
            else None
        )
        rows.append(bucket)
    return rows


def totals(rows: list[dict]) -> dict:
    summed = {name: sum(r[name] for r in rows) for name in [*DAY_FIELDS, "signups"]}
    summed["verification_rate"] = (
        summed["signups_verified"] / summed["signups"] if summed["signups"] else None
    )
    return summed


def localities(*, first: date, last: date) -> list[dict]:
    """The listings' numbers per locality over first..last, busiest first."""
    LocalityDay = apps.get_model("listings", "LocalityDay")
    return list(
        LocalityDay.objects.filter(day__range=(first, last))
        .values("locality__name")
        .annotate(
            views=Sum("views"),
            contacts=Sum("contacts"),
            visit_requests=Sum("visit_requests"),
            visits_done=Sum("visits_done"),
            rented=Sum("rented"),
        )
        .order_by("-views", "locality__name")
    )
