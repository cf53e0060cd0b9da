import csv
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from business import services
from business.forms import RangeForm
from nobroker.bsdate import format_ad
from nobroker.charts import line_chart

# Each table of the dashboard: (title, [(column key, heading)], chart series).
TABLES = {
    "signups": (
        gettext_lazy("Sign-ups"),
        [
            ("signups_tenant", gettext_lazy("Tenants")),
            ("signups_owner", gettext_lazy("Owners")),
            ("signups", gettext_lazy("All")),
            ("signups_verified", gettext_lazy("Verified email")),
            ("verification_rate", gettext_lazy("Verification rate")),
        ],
        ["signups_tenant", "signups_owner"],
    ),
    "listings": (
        gettext_lazy("Listings"),
        [
            ("listings_new", gettext_lazy("New")),
            ("listings_published", gettext_lazy("Published")),
            ("listings_rented", gettext_lazy("Rented")),
        ],
        ["listings_new", "listings_published", "listings_rented"],
    ),
    "visits": (
        gettext_lazy("Visits"),
        [
            ("visit_requests", gettext_lazy("Requested")),
            ("visits_done", gettext_lazy("Done")),
        ],
        ["visit_requests", "visits_done"],
    ),
    "activity": (
        gettext_lazy("Messages and active users"),
        [
            ("messages", gettext_lazy("Messages sent")),
            ("active_users", gettext_lazy("Active users")),
        ],
        ["messages", "active_users"],
    ),
    "ads": (
        gettext_lazy("Ads"),
        [
            ("ad_impressions", gettext_lazy("Viewable impressions")),
            ("ad_clicks", gettext_lazy("Clicks")),
            ("ad_ctr", gettext_lazy("Click-through rate")),
            ("ad_revenue", gettext_lazy("Revenue (Rs.)")),
            (
                "ad_revenue_per_active_user",
                gettext_lazy("Revenue per active user (Rs.)"),
            ),
        ],
        ["ad_impressions", "ad_clicks"],
    ),
}
RATES = {"verification_rate", "ad_ctr"}
LOCALITY_COLUMNS = [
    ("views", gettext_lazy("Listing views")),
    ("contacts", gettext_lazy("Contacts")),
    ("visit_requests", gettext_lazy("Visit requests")),
    ("visits_done", gettext_lazy("Visits done")),
    ("rented", gettext_lazy("Rented")),
]


def staff_only(view):
    """Signed-in staff only; anyone else signed in finds nothing here."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404(_("No page here."))
        return view(request, *args, **kwargs)

    return wrapped


def _range(request) -> tuple[RangeForm, dict]:
    form = RangeForm(request.GET if request.GET else None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data
    if not form.is_bound:
        form = RangeForm(initial=RangeForm.initial_values())
    return form, RangeForm.initial_values()


def _label(start, period: str) -> str:
    """'Nov 2026' or '3 Nov 2026', in the page's language and digits."""
    return format_ad(start, "M Y" if period == "month" else "j M Y")


def _cell(key: str, value):
    if key in RATES:
        return "" if value is None else f"{value:.1%}"
    if value is None:
        return "–"
    return value


@staff_only
def dashboard(request):
    form, chosen = _range(request)
    figures = services.dashboard_figures(
        first=chosen["first"], last=chosen["last"], period=chosen["period"]
    )
    rows = figures["rows"]
    labels = [_label(r["start"], chosen["period"]) for r in rows]
    sections = []
    for key, (title, columns, charted) in TABLES.items():
        headings = dict(columns)
        chart = line_chart(
            title=str(title),
            labels=labels,
            series=[
                (str(headings[name]), f"series-{i + 1}", [r[name] for r in rows])
                for i, name in enumerate(charted)
            ],
        )
        sections.append(
            {
                "key": key,
                "title": title,
                "headings": [heading for _key, heading in columns],
                "rows": [
                    (label, [_cell(name, r[name]) for name, _h in columns])
                    for label, r in zip(labels, rows, strict=True)
                ],
                "chart": chart if rows else None,
            }
        )
    total = services.totals(rows)
    rate = total["verification_rate"]
    total["verification_percent"] = None if rate is None else round(rate * 100)
    return render(
        request,
        "business/dashboard.html",
        {
            "form": form,
            "chosen": chosen,
            "sections": sections,
            "total": total,
            "localities": figures["localities"],
            "locality_headings": [h for _k, h in LOCALITY_COLUMNS],
            "query": request.GET.urlencode(),
        },
    )


@staff_only
def table_csv(request, table):
    if table not in TABLES and table != "localities":
        raise Http404(_("No such table."))
    _form, chosen = _range(request)
    figures = services.dashboard_figures(
        first=chosen["first"], last=chosen["last"], period=chosen["period"]
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{table}-{chosen["first"]}-{chosen["last"]}.csv"'
    )
    writer = csv.writer(response)
    if table == "localities":
        writer.writerow(["locality", *(key for key, _h in LOCALITY_COLUMNS)])
        for row in figures["localities"]:
            writer.writerow(
                [row["locality__name"], *(row[key] for key, _h in LOCALITY_COLUMNS)]
            )
        return response
    _title, columns, _charted = TABLES[table]
    writer.writerow([chosen["period"], *(key for key, _h in columns)])
    for row in figures["rows"]:
        writer.writerow(
            [
                row["start"].isoformat(),
                *(
                    ("" if row[key] is None else f"{row[key]:.4f}")
                    if key in RATES
                    else ("" if row[key] is None else row[key])
                    for key, _h in columns
                ),
            ]
        )
    return response
