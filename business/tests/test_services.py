"""The staff dashboard's figures against known data built in the database."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from business import services
from business.models import ActiveUsers, BusinessDay
from listings.models import ListingDay, LocalityDay
from listings.tests.factories import ListingFactory, locality
from messaging.tests.factories import MessageFactory
from visits.models import Slot, Visit, VisitEvent

pytestmark = pytest.mark.django_db

MON = dt.date(2026, 11, 23)  # a Monday
TUE = MON + dt.timedelta(days=1)
NEXT_MON = MON + dt.timedelta(days=7)


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _visit(listing, tenant, day, *, done=False):
    slot = Slot.objects.create(
        listing=listing, starts_at=_at(day, 15), ends_at=_at(day, 16)
    )
    visit = Visit.objects.create(
        listing=listing,
        tenant=tenant,
        slot=slot,
        status="done" if done else "pending",
        created_at=_at(day),
    )
    if done:
        VisitEvent.objects.create(
            visit=visit,
            actor=listing.owner,
            kind="done",
            status="done",
            created_at=_at(day, 17),
        )
    return visit


@pytest.fixture
def known_data():
    """Monday: 2 tenants (1 verified) and 1 owner sign up; the owner lists 2
    places (1 published); a tenant asks for 1 visit, done; 3 messages. Tuesday:
    1 tenant signs up; one listing rented; the next Monday: 1 message."""
    t1 = UserFactory(role="tenant", email_verified=True, date_joined=_at(MON, 9))
    t2 = UserFactory(role="tenant", email_verified=False, date_joined=_at(MON, 10))
    owner = UserFactory(role="owner", email_verified=True, date_joined=_at(MON, 11))
    t3 = UserFactory(role="tenant", email_verified=True, date_joined=_at(TUE, 9))
    a = ListingFactory(owner=owner, created_at=_at(MON), published_at=_at(MON, 13))
    ListingFactory(owner=owner, status="draft", created_at=_at(MON), published_at=None)
    visit = _visit(a, t1, MON, done=True)
    first = MessageFactory(conversation__listing=a, conversation__tenant=t1)
    for hour in (14, 15, 16):
        message = (
            first if hour == 14 else MessageFactory(conversation=first.conversation)
        )
        type(message).objects.filter(pk=message.pk).update(created_at=_at(MON, hour))
    later = MessageFactory(conversation__listing=a, conversation__tenant=t3)
    type(later).objects.filter(pk=later.pk).update(created_at=_at(NEXT_MON))
    ListingDay.objects.create(listing=a, day=TUE, rented=1, views=9, contacts=1)
    return {"tenants": [t1, t2, t3], "owner": owner, "visit": visit}


def test_daily_rows_match_what_the_database_holds(known_data):
    services.business_rollup(first=MON, last=NEXT_MON)
    mon = BusinessDay.objects.get(day=MON)
    tue = BusinessDay.objects.get(day=TUE)
    assert (mon.signups_tenant, mon.signups_owner, mon.signups_verified) == (2, 1, 2)
    assert (mon.listings_new, mon.listings_published) == (2, 1)
    assert (mon.visit_requests, mon.visits_done, mon.messages) == (1, 1, 3)
    assert (tue.signups_tenant, tue.listings_rented, tue.messages) == (1, 1, 0)
    assert BusinessDay.objects.get(day=NEXT_MON).messages == 1
    assert BusinessDay.objects.count() == 8


def test_active_users_per_day_week_and_month(known_data):
    services.business_rollup(first=MON, last=NEXT_MON)
    active = {(a.period, a.start): a.users for a in ActiveUsers.objects.all()}
    # Monday: three sign-ups (the owner also listed, t1 also asked and wrote).
    assert active[("day", MON)] == 3
    assert active[("day", TUE)] == 1
    assert active[("week", MON)] == 4
    # Next Monday only t3 wrote; t3 is the message's sender.
    assert active[("day", NEXT_MON)] == 1
    assert active[("month", dt.date(2026, 11, 1))] == 4


def test_figures_by_week_sum_the_days_and_rate_verification(known_data):
    services.business_rollup(first=MON, last=NEXT_MON)
    weeks = services.figures_by_period(first=MON, last=NEXT_MON, period="week")
    assert [w["start"] for w in weeks] == [MON, NEXT_MON]
    first = weeks[0]
    assert (first["signups"], first["signups_verified"]) == (4, 3)
    assert first["verification_rate"] == 0.75
    assert (first["messages"], first["active_users"]) == (3, 4)
    assert weeks[1]["messages"] == 1


def test_a_rollup_run_twice_gives_the_same_rows(known_data):
    services.business_rollup(first=MON, last=NEXT_MON)
    before = list(BusinessDay.objects.values(*services.DAY_FIELDS, "day"))
    services.business_rollup(first=MON, last=NEXT_MON)
    assert list(BusinessDay.objects.values(*services.DAY_FIELDS, "day")) == before


def test_staff_download_the_signups_csv(client, staff, known_data):
    services.business_rollup(first=MON, last=NEXT_MON)
    client.force_login(staff)
    url = reverse("business:csv", args=["signups"])
    response = client.get(url, {"first": MON, "last": TUE, "period": "day"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "day",
        "signups_tenant",
        "signups_owner",
        "signups",
        "signups_verified",
        "verification_rate",
    ]
    assert rows[1] == [MON.isoformat(), "2", "1", "3", "2", "0.6667"]
    assert rows[2] == [TUE.isoformat(), "1", "0", "1", "1", "1.0000"]


def test_every_table_downloads_and_the_dashboard_shows_them(client, staff, known_data):
    from listings.stats import locality_days_rollup

    services.business_rollup(first=MON, last=NEXT_MON)
    locality_days_rollup(first=MON, last=NEXT_MON)
    assert LocalityDay.objects.get(day=TUE).views == 9
    client.force_login(staff)
    query = {"first": MON, "last": NEXT_MON, "period": "week"}
    for table in ("signups", "listings", "visits", "activity", "localities"):
        response = client.get(reverse("business:csv", args=[table]), query)
        assert response.status_code == 200, table
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("business:csv", args=["localities"]), query
                ).content.decode()
            )
        )
    )
    assert rows[1] == [locality("thamel").name, "9", "1", "0", "0", "1"]
    page = client.get(reverse("business:dashboard"), query)
    assert page.status_code == 200
    assert b"<svg" in page.content
    assert b"4 sign-ups" in page.content


def test_a_bad_range_shows_field_errors_not_a_500(client, staff):
    client.force_login(staff)
    response = client.get(
        reverse("business:dashboard"),
        {"first": "2026-12-01", "last": "2026-11-01", "period": "day"},
    )
    assert response.status_code == 200
    assert b"The end date must be on or after the start." in response.content
    response = client.get(reverse("business:dashboard"), {"first": "soon"})
    assert response.status_code == 200
    assert b"Enter a valid date." in response.content
    assert client.get(reverse("business:csv", args=["nope"])).status_code == 404


def test_ad_figures_come_from_the_ads_daily_rows(client, staff, known_data):
    from ads.models import DailyStat
    from ads.tests.factories import CampaignFactory

    campaign = CampaignFactory()
    for placement, viewable, clicks, spend in [
        ("search", 800, 8, 40_000_000),  # Rs. 400
        ("detail", 200, 2, 10_000_000),  # Rs. 100
    ]:
        DailyStat.objects.create(
            day=MON,
            campaign=campaign,
            placement=placement,
            viewable=viewable,
            clicks=clicks,
            spend_milli=spend,
        )
    services.business_rollup(first=MON, last=NEXT_MON)
    week = services.figures_by_period(first=MON, last=NEXT_MON, period="week")[0]
    assert (week["ad_impressions"], week["ad_clicks"]) == (1000, 10)
    assert week["ad_ctr"] == 0.01
    assert week["ad_revenue"] == 500
    assert week["ad_revenue_per_active_user"] == 125  # 4 active users
    client.force_login(staff)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("business:csv", args=["ads"]),
                    {"first": MON, "last": NEXT_MON, "period": "week"},
                ).content.decode()
            )
        )
    )
    assert rows[1] == [MON.isoformat(), "1000", "10", "0.0100", "500.0", "125.0"]


def test_figures_are_read_from_the_cache_until_a_rollup_changes_them(
    client, staff, known_data, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with django_capture_on_commit_callbacks(execute=True):
        services.business_rollup(first=MON, last=NEXT_MON)
    client.force_login(staff)
    query = {"first": MON, "last": NEXT_MON, "period": "week"}
    assert b"4 sign-ups" in client.get(reverse("business:dashboard"), query).content
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("business:dashboard"), query)
    assert b"4 sign-ups" in page.content
    assert not [q for q in queries if "business_" in q["sql"] or "_day" in q["sql"]]

    UserFactory(role="owner", date_joined=_at(TUE, 8))
    with django_capture_on_commit_callbacks(execute=True):
        services.business_rollup(first=MON, last=NEXT_MON)
    assert b"5 sign-ups" in client.get(reverse("business:dashboard"), query).content


def test_a_flush_that_lands_counts_moves_the_rows_version_on(
    db, django_capture_on_commit_callbacks
):
    from nobroker import counting

    counting.reset_backend()
    listing = ListingFactory()
    before = counting.rows_version()
    counting.flush()  # nothing counted: nothing changed
    assert counting.rows_version() == before
    counting.count("listing.view", listing.pk)
    with django_capture_on_commit_callbacks(execute=True):
        counting.flush()
    assert counting.rows_version() == before + 1
    counting.reset_backend()
