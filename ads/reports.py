"""What advertisers and staff read: daily numbers, the chart, pacing, receipts."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ads.models import COUNT_FIELDS, FILTERED_FIELDS, MILLI, Campaign, DailyStat
from ads.services import VAT_PERCENT, npr_paisa
from nobroker.charts import day_label, line_chart


def _row(day, counts: dict) -> dict:
    row = {"day": day, **{f: counts.get(f) or 0 for f in COUNT_FIELDS}}
    row["filtered"] = sum(row[f] for f in FILTERED_FIELDS)
    row["ctr"] = row["clicks"] / row["viewable"] * 100 if row["viewable"] else 0.0
    row["spend"] = row["spend_milli"] // MILLI
    return row


def daily_rows(campaign: Campaign) -> list[dict]:
    """One row per day of the campaign so far, days without counts included."""
    found = {
        item["day"]: item
        for item in DailyStat.objects.filter(campaign=campaign)
        .values("day")
        .annotate(**{f: Sum(f) for f in COUNT_FIELDS})
        .order_by("day")
    }
    today = timezone.localdate()
    first = min([timezone.localdate(campaign.starts_at), *found]) if found else None
    if first is None:
        return []
    last = min(max([today, *found]), timezone.localdate(campaign.ends_at))
    last = max(last, max(found) if found else first)
    rows, day = [], first
    while day <= last and len(rows) < 400:
        rows.append(_row(day, found.get(day, {})))
        day += timedelta(days=1)
    return rows


def sum_rows(rows: list[dict]) -> dict:
    return _row(None, {f: sum(r[f] for r in rows) for f in COUNT_FIELDS})


def campaign_totals(campaigns) -> dict[int, dict]:
    sums = (
        DailyStat.objects.filter(campaign__in=campaigns)
        .values("campaign_id")
        .annotate(**{f: Sum(f) for f in COUNT_FIELDS})
    )
    return {item["campaign_id"]: _row(None, item) for item in sums}


CSV_HEADER = [
    "day",
    "served",
    "viewable",
    "clicks",
    "ctr_percent",
    "spend_npr",
    "filtered_bot",
    "filtered_prefetch",
    "filtered_repeat",
    "filtered_reused",
    "filtered_internal",
]


def csv_row(row: dict) -> list:
    return [
        row["day"].isoformat(),
        row["served"],
        row["viewable"],
        row["clicks"],
        f"{row['ctr']:.2f}",
        f"{row['spend_milli'] / MILLI / 100:.2f}",
        *(row[f] for f in FILTERED_FIELDS),
    ]


def chart(rows: list[dict]):
    """
    Served and viewable impressions and clicks per day, as the site's shared
    server-drawn chart (`nobroker.charts`): an SVG readable on a phone with its
    numbers in a table.
    """
    rows = rows[-60:]
    return line_chart(
        title=_("Served and viewable impressions and clicks per day"),
        labels=[day_label(r["day"]) for r in rows],
        series=[
            (_("Served"), "series-1", [r["served"] for r in rows]),
            (_("Viewable"), "series-2", [r["viewable"] for r in rows]),
            (_("Clicks"), "series-3", [r["clicks"] for r in rows]),
        ],
    )


def pacing(campaign: Campaign) -> dict:
    """Today's spend against the plan so far, and the whole budget's use."""
    now = timezone.localtime()
    today = (
        DailyStat.objects.filter(campaign=campaign, day=now.date()).aggregate(
            s=Sum("spend_milli")
        )["s"]
        or 0
    ) // MILLI
    total = (
        DailyStat.objects.filter(campaign=campaign).aggregate(s=Sum("spend_milli"))["s"]
        or 0
    ) // MILLI
    planned_today = campaign.daily_budget * (now.hour + 1) // 24
    length = max((campaign.ends_at - campaign.starts_at).total_seconds(), 1)
    elapsed = min(max((now - campaign.starts_at).total_seconds(), 0), length)
    planned_total = min(
        campaign.total_budget, round(campaign.total_budget * elapsed / length)
    )
    return {
        "today": today,
        "planned_today": planned_today,
        "today_percent": round(today / planned_today * 100) if planned_today else 0,
        "total": total,
        "planned_total": planned_total,
        "total_percent": round(total / campaign.total_budget * 100)
        if campaign.total_budget
        else 0,
        "today_npr": npr_paisa(today),
        "planned_today_npr": npr_paisa(planned_today),
        "total_npr": npr_paisa(total),
        "planned_total_npr": npr_paisa(planned_total),
        "budget_npr": npr_paisa(campaign.total_budget),
        "daily_npr": npr_paisa(campaign.daily_budget),
    }


def receipt_context(entry) -> dict:
    return {
        "entry": entry,
        "advertiser": entry.advertiser,
        "number": f"NBK-{entry.created_at:%Y}-{entry.pk:06d}",
        "net": npr_paisa(entry.amount),
        "vat": npr_paisa(entry.vat),
        "gross": npr_paisa(entry.gross),
        "vat_percent": VAT_PERCENT,
        "site_pan": settings.SITE_PAN,
        "site_name": settings.SITE_NAME,
    }


def revenue_by_day_and_placement(days: int = 30) -> dict:
    """Spend counted per day and placement (what the site earned), for staff."""
    since = timezone.localdate() - timedelta(days=days - 1)
    from ads.placements import PLACEMENTS

    cells = {}
    for item in (
        DailyStat.objects.filter(day__gte=since)
        .values("day", "placement")
        .annotate(s=Sum("spend_milli"))
    ):
        cells[(item["day"], item["placement"])] = item["s"] // MILLI
    placements = list(PLACEMENTS.values())
    rows = []
    for n in range(days):
        day = timezone.localdate() - timedelta(days=n)
        values = [cells.get((day, p.code), 0) for p in placements]
        rows.append(
            {
                "day": day,
                "values": [npr_paisa(v) for v in values],
                "total": npr_paisa(sum(values)),
            }
        )
    totals = [
        npr_paisa(sum(v for (d, code), v in cells.items() if code == p.code))
        for p in placements
    ]
    return {
        "placements": placements,
        "rows": rows,
        "totals": totals,
        "grand_total": npr_paisa(sum(cells.values())),
    }
