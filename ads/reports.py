"""What advertisers and staff read: daily numbers, the chart, pacing, receipts."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ads.models import COUNT_FIELDS, FILTERED_FIELDS, MILLI, Campaign, DailyStat
from ads.services import VAT_PERCENT, npr_paisa


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


def chart_svg(rows: list[dict]) -> SafeString:
    """
    Served and viewable impressions per day as bars, clicks as dots: an SVG
    drawn on the server that scales to a phone's width. The same numbers are
    in the table beside it, for screen readers and for reading exact values.
    """
    if not rows:
        return SafeString("")
    rows = rows[-30:]
    width, height, pad = 600, 220, 28
    top = max(max(r["served"] for r in rows), max(r["viewable"] for r in rows), 1)
    top_clicks = max(max(r["clicks"] for r in rows), 1)
    step = (width - pad * 2) / len(rows)
    bar = max(step * 0.38, 1.5)
    scale = (height - pad * 2) / top
    parts = []
    for i, row in enumerate(rows):
        x = pad + i * step
        served_h = row["served"] * scale
        view_h = row["viewable"] * scale
        click_y = height - pad - row["clicks"] / top_clicks * (height - pad * 2)
        day = row["day"].strftime("%-d %b")
        parts.append(
            format_html(
                '<rect class="chart__served" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>"
                '<rect class="chart__viewable" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>"
                '<circle class="chart__clicks" cx="{}" cy="{}" r="3">'
                "<title>{}: {} {}</title></circle>",
                f"{x:.1f}",
                f"{height - pad - served_h:.1f}",
                f"{bar:.1f}",
                f"{served_h:.1f}",
                day,
                row["served"],
                _("served"),
                f"{x + bar:.1f}",
                f"{height - pad - view_h:.1f}",
                f"{bar:.1f}",
                f"{view_h:.1f}",
                day,
                row["viewable"],
                _("viewable"),
                f"{x + bar:.1f}",
                f"{click_y:.1f}",
                day,
                row["clicks"],
                _("clicks"),
            )
        )
    labels = format_html_join(
        "",
        '<text class="chart__label" x="{}" y="{}">{}</text>',
        (
            (f"{pad + i * step:.1f}", height - 8, r["day"].strftime("%-d %b"))
            for i, r in enumerate(rows)
            if i % max(len(rows) // 6, 1) == 0
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title">'
        '<title id="chart-title">{title}</title>'
        '<line class="chart__axis" x1="{pad}" y1="{base}" x2="{right}" y2="{base}"/>'
        '<text class="chart__label" x="2" y="{pad}">{top}</text>'
        "{bars}{labels}</svg>",
        w=width,
        h=height,
        title=_("Served and viewable impressions and clicks per day"),
        pad=pad,
        base=height - pad,
        right=width - pad,
        top=top,
        bars=SafeString("".join(parts)),
        labels=labels,
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
