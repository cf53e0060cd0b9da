import datetime as dt
import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import strip_tags

from accounts.models import Notification
from accounts.tests.factories import UserFactory
from listings.models import Listing
from visits import services
from visits.models import Slot, Visit, VisitFeedback
from visits.slots import SlotOption, format_visit_time, free_slots
from visits.tests.conftest import nepal
from visits.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db

SAT_10AM = nepal(2026, 12, 5, 10, 0)


@pytest.fixture
def book_url(listing):
    return reverse("visits:book", kwargs={"listing_pk": listing.pk})


@pytest.fixture
def visit(listing, tenant, frozen_now):
    return services.visit_request(tenant=tenant, listing=listing, starts_at=SAT_10AM)


def text(response) -> str:
    """The page as a person reads it: no tags, single spaces."""
    return " ".join(strip_tags(response.content.decode()).split())


def post_booking(client, url, starts_at=SAT_10AM, **extra):
    data = {
        "slot": starts_at.isoformat(),
        "note": "Coming with my sister",
        "idempotency_key": str(uuid.uuid4()),
        **extra,
    }
    return client.post(url, data)


# --- Booking page ------------------------------------------------------------------


def test_booking_page_lists_the_free_slots_in_nepal_time(
    client, tenant, book_url, frozen_now, django_assert_max_num_queries
):
    client.force_login(tenant)

    with django_assert_max_num_queries(12):
        response = client.get(book_url)

    assert response.status_code == 200
    page = text(response)
    assert "Sat, 5 Dec · 10:00 AM" in page
    assert "Sat, 12 Dec · 12:30 PM" in page
    assert response.content.decode().count('name="slot"') == 12
    assert 'name="idempotency_key"' in response.content.decode()


def test_anonymous_visitor_is_sent_to_log_in(client, book_url):
    response = client.get(book_url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_booking_makes_a_pending_visit_and_shows_it(
    client, tenant, book_url, frozen_now
):
    client.force_login(tenant)

    response = post_booking(client, book_url)

    visit = Visit.objects.get()
    assert response.status_code == 302
    assert response["Location"] == visit.get_absolute_url()
    assert visit.tenant == tenant
    assert visit.note == "Coming with my sister"
    page = client.get(visit.get_absolute_url()).content.decode()
    assert "Waiting for confirmation" in page
    assert "Phone number shown once the visit is confirmed." in page
    assert "+9779841234567" not in page


def test_posting_the_same_form_twice_makes_one_visit(
    client, tenant, book_url, frozen_now
):
    client.force_login(tenant)
    key = str(uuid.uuid4())

    first = post_booking(client, book_url, idempotency_key=key)
    second = post_booking(client, book_url, idempotency_key=key)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Visit.objects.count() == 1


def test_full_slot_says_it_was_just_taken_and_shows_the_others(
    client, tenant, listing, book_url, frozen_now
):
    services.visit_request(tenant=UserFactory(), listing=listing, starts_at=SAT_10AM)
    client.force_login(tenant)

    response = post_booking(client, book_url)

    assert response.status_code == 409
    page = text(response)
    assert "This slot was just taken" in page
    assert "Sat, 5 Dec · 10:30 AM" in page
    assert Visit.objects.count() == 1


def test_owner_sees_their_own_listing_cannot_be_booked(
    client, owner, book_url, frozen_now
):
    client.force_login(owner)

    assert "This is your listing" in client.get(book_url).content.decode()
    response = post_booking(client, book_url)

    assert response.status_code == 400
    assert "your own listing" in response.content.decode()
    assert not Visit.objects.exists()


def test_past_or_malformed_slot_is_refused_with_a_reason(
    client, tenant, book_url, frozen_now
):
    client.force_login(tenant)

    past = post_booking(client, book_url, starts_at=nepal(2026, 11, 28, 10, 0))
    bad = client.post(book_url, {"slot": "next saturday"})
    missing = client.post(book_url, {"slot": ""})

    assert past.status_code == 400
    assert "already passed" in past.content.decode()
    assert bad.status_code == 400
    assert "Pick one of the times shown." in bad.content.decode()
    assert "Pick a time for your visit." in missing.content.decode()
    assert not Visit.objects.exists()


def test_unpublished_listing_booking_page_is_404_for_others(
    client, tenant, listing, book_url
):
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.DRAFT)
    client.force_login(tenant)

    assert client.get(book_url).status_code == 404
    assert post_booking(client, book_url).status_code == 404


def test_visit_requests_are_rate_limited_per_user(
    client, tenant, owner, frozen_now, settings
):
    client.force_login(tenant)
    listings = []
    for _ in range(11):
        listing = ListingFactory(owner=owner)
        from visits.tests.factories import WeeklyWindowFactory

        WeeklyWindowFactory(listing=listing)
        listings.append(listing)

    statuses = [
        post_booking(
            client, reverse("visits:book", kwargs={"listing_pk": listing.pk})
        ).status_code
        for listing in listings
    ]

    assert statuses[:10] == [302] * 10
    assert statuses[10] == 429
    assert Visit.objects.count() == 10
    client.force_login(UserFactory())
    response = post_booking(
        client, reverse("visits:book", kwargs={"listing_pk": listings[10].pk})
    )
    assert response.status_code == 302


def test_rate_limit_page_says_what_to_do(client, tenant, book_url, frozen_now):
    client.force_login(tenant)
    for _ in range(10):
        client.post(book_url, {"slot": ""})

    response = post_booking(client, book_url)

    assert response.status_code == 429
    assert "please wait an hour" in response.content.decode()


# --- Who sees a visit -------------------------------------------------------------

VISIT_GET_URLS = ["visits:detail", "visits:ics"]
VISIT_POST_URLS = [
    "visits:confirm",
    "visits:decline",
    "visits:propose",
    "visits:accept",
    "visits:reject",
    "visits:cancel",
    "visits:outcome",
    "visits:feedback",
]


@pytest.mark.parametrize("name", VISIT_GET_URLS + VISIT_POST_URLS)
@pytest.mark.parametrize("who", ["other_tenant", "other_owner", "staff"])
def test_only_the_two_parties_reach_a_visit(
    client, visit, other_owner, staff, name, who
):
    people = {"other_tenant": UserFactory(), "other_owner": other_owner, "staff": staff}
    client.force_login(people[who])
    url = reverse(name, kwargs={"pk": visit.pk})

    response = client.post(url) if name in VISIT_POST_URLS else client.get(url)

    assert response.status_code == 404
    visit.refresh_from_db()
    assert visit.status == Visit.Status.PENDING


@pytest.mark.parametrize("name", VISIT_GET_URLS + VISIT_POST_URLS)
def test_anonymous_is_asked_to_log_in_for_any_visit_url(client, visit, name):
    url = reverse(name, kwargs={"pk": visit.pk})

    response = client.post(url) if name in VISIT_POST_URLS else client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    "name", ["visits:list", "visits:schedule", "accounts:notifications"]
)
def test_personal_pages_need_a_login(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_tenant_cannot_use_the_owner_actions(client, visit, tenant):
    client.force_login(tenant)

    for name in [
        "visits:confirm",
        "visits:decline",
        "visits:propose",
        "visits:outcome",
    ]:
        assert client.post(reverse(name, kwargs={"pk": visit.pk})).status_code == 404
    visit.refresh_from_db()
    assert visit.status == Visit.Status.PENDING


def test_owner_cannot_use_the_tenant_actions(client, visit, owner):
    client.force_login(owner)

    for name in ["visits:accept", "visits:reject", "visits:feedback"]:
        assert client.post(reverse(name, kwargs={"pk": visit.pk})).status_code == 404


def test_visit_urls_only_accept_post_for_actions(client, visit, owner):
    client.force_login(owner)

    response = client.get(reverse("visits:confirm", kwargs={"pk": visit.pk}))

    assert response.status_code == 405


# --- Both sides act through the pages ---------------------------------------------


def test_owner_confirms_and_tenant_then_sees_the_phone(client, visit, owner, tenant):
    client.force_login(owner)
    response = client.post(reverse("visits:confirm", kwargs={"pk": visit.pk}))
    assert response.status_code == 302

    client.force_login(tenant)
    page = client.get(visit.get_absolute_url()).content.decode()

    assert "Confirmed" in page
    assert "+9779841234567" in page
    assert "Requested" in page and "by" in page  # the history


def test_decline_needs_a_reason(client, visit, owner):
    client.force_login(owner)
    url = reverse("visits:decline", kwargs={"pk": visit.pk})

    empty = client.post(url, {"decline-reason": ""})
    done = client.post(url, {"decline-reason": "Already rented"})

    assert empty.status_code == 400
    assert "Please say why" in empty.content.decode()
    assert done.status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.DECLINED


def test_owner_proposes_and_tenant_accepts_through_the_pages(
    client, visit, owner, tenant
):
    eleven = nepal(2026, 12, 5, 11, 0)
    client.force_login(owner)
    detail = client.get(visit.get_absolute_url()).content.decode()
    assert SlotOption(eleven, eleven, 1).value in detail

    bad = client.post(
        reverse("visits:propose", kwargs={"pk": visit.pk}), {"propose-slot": "x"}
    )
    assert bad.status_code == 400
    client.post(
        reverse("visits:propose", kwargs={"pk": visit.pk}),
        {"propose-slot": SlotOption(eleven, eleven, 1).value},
    )
    client.force_login(tenant)
    page = client.get(visit.get_absolute_url()).content.decode()
    assert "Sat, 5 Dec · 11:00 AM" in page
    client.post(reverse("visits:accept", kwargs={"pk": visit.pk}))

    visit.refresh_from_db()
    assert visit.status == Visit.Status.CONFIRMED
    assert visit.slot.starts_at == eleven


def test_cancel_from_the_page_needs_a_reason_and_frees_the_slot(
    client, visit, tenant, book_url
):
    client.force_login(tenant)
    url = reverse("visits:cancel", kwargs={"pk": visit.pk})

    assert client.post(url, {"cancel-reason": ""}).status_code == 400
    client.post(url, {"cancel-reason": "Found another flat"})

    visit.refresh_from_db()
    assert visit.status == Visit.Status.CANCELLED
    assert Slot.objects.get().booked == 0
    assert "Found another flat" in client.get(visit.get_absolute_url()).content.decode()


def test_an_action_on_a_changed_visit_explains_and_changes_nothing(
    client, visit, owner, tenant
):
    services.visit_cancel(visit=visit, user=tenant, reason="Sorry")
    client.force_login(owner)

    response = client.post(
        reverse("visits:confirm", kwargs={"pk": visit.pk}), follow=True
    )

    assert "This visit has changed meanwhile" in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.CANCELLED


def test_after_the_visit_tenant_answers_and_worrying_answers_are_queued(
    client, visit, owner, tenant, time_machine
):
    services.visit_confirm(visit=visit, owner=owner)
    time_machine.move_to(SAT_10AM + dt.timedelta(hours=2))
    client.force_login(owner)
    client.post(reverse("visits:outcome", kwargs={"pk": visit.pk}), {"outcome": "done"})
    client.force_login(tenant)
    url = reverse("visits:feedback", kwargs={"pk": visit.pk})

    assert (
        "Was the listing accurate?"
        in client.get(visit.get_absolute_url()).content.decode()
    )
    assert client.post(url, {}).status_code == 400
    client.post(
        url,
        {"feedback-listing_accurate": "yes", "feedback-commission_asked": "yes"},
    )

    feedback = VisitFeedback.objects.get()
    assert feedback.commission_asked is True
    assert feedback.needs_review is True


def test_ics_download_describes_the_visit(client, visit, owner, tenant):
    services.visit_confirm(visit=visit, owner=owner)
    client.force_login(tenant)

    response = client.get(reverse("visits:ics", kwargs={"pk": visit.pk}))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert 'filename="visit-' in response["Content-Disposition"]
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert body.endswith("END:VCALENDAR\r\n")
    unfolded = body.replace("\r\n ", "")
    assert "DTSTART:20261205T041500Z\r\n" in unfolded
    assert "DTEND:20261205T044500Z\r\n" in unfolded
    assert f"UID:visit-{visit.pk}@testserver\r\n" in unfolded
    assert "STATUS:CONFIRMED\r\n" in unfolded
    assert f"SUMMARY:House visit: {visit.listing.title}" in unfolded
    assert "LOCATION:Jhamsikhel" in unfolded
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_ics_escapes_text_and_folds_long_lines(visit):
    from visits.ics import visit_calendar

    Listing.objects.filter(pk=visit.listing_id).update(
        title="Flat; big, bright " + "very " * 20, street="Pulchowk Road, Ward 3"
    )
    visit = Visit.objects.with_related().get(pk=visit.pk)

    body = visit_calendar(visit)

    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:House visit: Flat\\; big\\, bright very" in unfolded
    assert "LOCATION:Pulchowk Road\\, Ward 3\\, Jhamsikhel" in unfolded
    assert "STATUS:TENTATIVE" in unfolded
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


# --- Lists and the schedule ------------------------------------------------------


def test_my_visits_splits_upcoming_and_past(
    client, visit, tenant, owner, listing, time_machine, django_assert_max_num_queries
):
    client.force_login(tenant)

    with django_assert_max_num_queries(8):
        page = client.get(reverse("visits:list")).content.decode()
    upcoming, past = page.split("Past", 1)
    assert listing.title in upcoming

    time_machine.move_to(SAT_10AM + dt.timedelta(hours=3))
    page = client.get(reverse("visits:list")).content.decode()
    upcoming, past = page.split('id="past-title"', 1)
    assert listing.title not in upcoming
    assert listing.title in past


def test_owner_schedule_groups_visits_by_day_with_counts(
    client, owner, listing, frozen_now, django_assert_max_num_queries
):
    for hour in (10, 11):
        services.visit_request(
            tenant=UserFactory(), listing=listing, starts_at=nepal(2026, 12, 5, hour)
        )
    services.visit_request(
        tenant=UserFactory(), listing=listing, starts_at=nepal(2026, 12, 12, 10)
    )
    client.force_login(owner)

    with django_assert_max_num_queries(10):
        response = client.get(reverse("visits:schedule"))

    page = response.content.decode()
    assert page.index("Saturday, 5 December") < page.index("Saturday, 12 December")
    assert page.count('data-testid="visit-card"') == 3
    assert "3 waiting · 3 upcoming · 0 done · 3 in all" in page


def test_schedule_shows_no_visits_of_other_owners(client, other_owner, visit):
    client.force_login(other_owner)

    page = client.get(reverse("visits:schedule")).content.decode()

    assert visit.listing.title not in page
    assert "No visits booked yet" in page


# --- Availability editing --------------------------------------------------------


def _formset_data(prefix, rows, initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def test_owner_sets_visiting_hours_with_forms(client, owner, frozen_now):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    url = reverse("visits:availability", kwargs={"listing_pk": listing.pk})
    assert client.get(url).status_code == 200

    data = {
        "slot_minutes": "60",
        "capacity": "4",
        "instant_booking": "on",
        **_formset_data(
            "weekly", [{"weekday": "6", "start_time": "16:00", "end_time": "18:00"}]
        ),
        **_formset_data(
            "dates",
            [{"date": "2026-12-03", "start_time": "07:00", "end_time": "08:00"}],
        ),
        **_formset_data("blocked", [{"date": "2026-12-13", "reason": "Festival"}]),
    }
    response = client.post(url, data)

    assert response.status_code == 302
    availability = listing.availability
    assert (availability.slot_minutes, availability.capacity) == (60, 4)
    assert availability.instant_booking is True
    slots = free_slots(listing)
    assert [format_visit_time(s.starts_at) for s in slots] == [
        "Thu, 3 Dec · 7:00 AM",
        "Sun, 6 Dec · 4:00 PM",
        "Sun, 6 Dec · 5:00 PM",
    ]
    assert slots[0].remaining == 4


def test_window_ending_before_it_starts_is_refused_clearly(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    url = reverse("visits:availability", kwargs={"listing_pk": listing.pk})
    data = {
        "slot_minutes": "30",
        "capacity": "0",
        **_formset_data(
            "weekly", [{"weekday": "5", "start_time": "13:00", "end_time": "10:00"}]
        ),
        **_formset_data("dates", []),
        **_formset_data("blocked", []),
    }

    response = client.post(url, data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "The end must be later than the start." in page
    assert "A slot takes at least one person." in page
    assert not listing.weekly_windows.exists()


def test_other_owner_cannot_edit_visiting_hours(client, other_owner, listing):
    client.force_login(other_owner)

    response = client.get(
        reverse("visits:availability", kwargs={"listing_pk": listing.pk})
    )

    assert response.status_code == 404


# --- Notifications and the listing page panel -------------------------------------


def test_header_counts_unread_notifications_and_the_page_marks_them_read(
    client, visit, owner
):
    client.force_login(owner)

    home = client.get(reverse("home")).content.decode()
    assert re.search(r'data-testid="unread-count">1<', home)

    page = client.get(reverse("accounts:notifications")).content.decode()
    assert "asks to visit" in page
    assert visit.get_absolute_url() in page
    assert not Notification.objects.unread().exists()
    home = client.get(reverse("home")).content.decode()
    assert 'data-testid="unread-count"' not in home


def test_notifications_of_others_are_not_shown(client, visit, tenant):
    client.force_login(tenant)

    page = client.get(reverse("accounts:notifications")).content.decode()

    assert "asks to visit" not in page
    assert Notification.objects.unread().count() == 1


def _panel(listing, user):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(listing.get_absolute_url())
    request.user = user or AnonymousUser()
    return render_to_string(
        "includes/listing_actions.html",
        {"listing": listing, "user": request.user},
        request=request,
    )


def test_listing_panel_offers_next_slots_and_login_to_anonymous(listing, frozen_now):
    from django.contrib.auth.models import AnonymousUser

    html = _panel(listing, AnonymousUser())

    assert "Log in to book a visit" in html
    assert "Sat, 5 Dec · 10:00 AM" in html
    assert "?next=" + reverse("visits:book", kwargs={"listing_pk": listing.pk}) in html


def test_listing_panel_for_tenant_and_owner(listing, tenant, owner, frozen_now):
    html = _panel(listing, tenant)
    assert "Book a visit" in html
    assert "Sat, 5 Dec · 10:00 AM" in html

    services.visit_request(tenant=tenant, listing=listing, starts_at=SAT_10AM)
    assert "See your visit" in _panel(listing, tenant)

    owner_html = _panel(listing, owner)
    assert "Set visiting hours" in owner_html
    assert "Book a visit" not in owner_html


def test_nav_shows_visits_link_only_when_logged_in(client, tenant):
    assert reverse("visits:list") not in client.get(reverse("home")).content.decode()
    client.force_login(tenant)
    assert reverse("visits:list") in client.get(reverse("home")).content.decode()
