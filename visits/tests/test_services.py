import datetime as dt
import uuid

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.models import Notification
from accounts.tests.factories import UserFactory
from listings.models import Listing
from visits import services
from visits.models import Slot, Visit, VisitEvent, VisitFeedback
from visits.slots import (
    format_visit_time,
    free_slots,
    next_free_slots,
    parse_slot_value,
)
from visits.tests.conftest import NOW, UTC, nepal
from visits.tests.factories import (
    AvailabilityFactory,
    BlockedDateFactory,
    DateWindowFactory,
    ListingFactory,
    WeeklyWindowFactory,
)

pytestmark = pytest.mark.django_db

SAT_10AM = nepal(2026, 12, 5, 10, 0)


def book(tenant, listing, starts_at=SAT_10AM, **kwargs):
    return services.visit_request(
        tenant=tenant, listing=listing, starts_at=starts_at, **kwargs
    )


# --- Slot generation ----------------------------------------------------------------


def test_weekly_window_gives_30_minute_slots_on_the_next_two_saturdays(
    listing, frozen_now
):
    slots = free_slots(listing)

    starts = [slot.starts_at for slot in slots]
    assert len(starts) == 12  # 10:00–13:00 on Sat 5 and Sat 12 December
    assert starts[0] == dt.datetime(2026, 12, 5, 4, 15, tzinfo=UTC)  # 10:00 +05:45
    assert starts[5] == dt.datetime(2026, 12, 5, 6, 45, tzinfo=UTC)  # 12:30 +05:45
    assert slots[0].ends_at - slots[0].starts_at == dt.timedelta(minutes=30)
    assert starts[6] == nepal(2026, 12, 12, 10, 0)


def test_slot_length_and_capacity_follow_the_owner_settings(owner, frozen_now):
    listing = ListingFactory(owner=owner)
    AvailabilityFactory(listing=listing, slot_minutes=45, capacity=3)
    WeeklyWindowFactory(listing=listing, weekday=5)

    slots = [s for s in free_slots(listing) if s.local_day.day == 5]

    assert [format_visit_time(s.starts_at) for s in slots] == [
        "Sat, 5 Dec · 10:00 AM",
        "Sat, 5 Dec · 10:45 AM",
        "Sat, 5 Dec · 11:30 AM",
        "Sat, 5 Dec · 12:15 PM",
    ]
    assert {s.remaining for s in slots} == {3}


def test_listing_without_saved_settings_uses_30_minute_private_slots(owner, frozen_now):
    listing = ListingFactory(owner=owner)
    WeeklyWindowFactory(listing=listing, weekday=5, end_time=dt.time(11, 0))

    slots = free_slots(listing)

    assert len(slots) == 4
    assert all(s.remaining == 1 for s in slots)


def test_one_off_date_adds_slots_and_blocked_date_removes_them(listing, frozen_now):
    DateWindowFactory(
        listing=listing,
        date=dt.date(2026, 12, 3),
        start_time=dt.time(17, 0),
        end_time=dt.time(18, 0),
    )
    BlockedDateFactory(listing=listing, date=dt.date(2026, 12, 12))

    starts = [s.starts_at for s in free_slots(listing)]

    assert starts[:2] == [nepal(2026, 12, 3, 17, 0), nepal(2026, 12, 3, 17, 30)]
    assert not [s for s in starts if s.astimezone(UTC).date() == dt.date(2026, 12, 12)]
    assert len(starts) == 2 + 6


def test_overlapping_windows_do_not_repeat_a_slot(listing, frozen_now):
    DateWindowFactory(
        listing=listing,
        date=dt.date(2026, 12, 5),
        start_time=dt.time(12, 0),
        end_time=dt.time(14, 0),
    )

    starts = [s.starts_at for s in free_slots(listing) if s.local_day.day == 5]

    assert len(starts) == len(set(starts)) == 8  # 10:00 … 13:30


def test_free_slots_cover_fourteen_nepal_days_starting_today(owner, frozen_now):
    listing = ListingFactory(owner=owner)
    for weekday in range(7):
        WeeklyWindowFactory(
            listing=listing,
            weekday=weekday,
            start_time=dt.time(9, 0),
            end_time=dt.time(10, 0),
        )

    days = sorted({s.local_day for s in free_slots(listing)})

    # Today's 09:00 and 09:30 slots are past (it is 09:45 in Kathmandu).
    assert days[0] == dt.date(2026, 12, 2)
    assert days[-1] == dt.date(2026, 12, 14)
    assert len(days) == 13


# --- Time-zone edges -------------------------------------------------------------


def test_just_after_midnight_in_nepal_the_day_is_already_the_next_one(owner):
    """At 18:20 UTC on Saturday it is 00:05 on Sunday in Kathmandu."""
    listing = ListingFactory(owner=owner)
    WeeklyWindowFactory(
        listing=listing, weekday=6, start_time=dt.time(0, 0), end_time=dt.time(1, 0)
    )

    with time_machine.travel(dt.datetime(2026, 12, 5, 18, 20, tzinfo=UTC), tick=False):
        slots = free_slots(listing)

    assert slots[0].starts_at == dt.datetime(2026, 12, 5, 18, 45, tzinfo=UTC)
    assert format_visit_time(slots[0].starts_at) == "Sun, 6 Dec · 12:30 AM"
    assert slots[0].local_day == dt.date(2026, 12, 6)
    # Sunday 20 December would be the 15th Nepal day: not offered.
    assert slots[-1].local_day == dt.date(2026, 12, 13)


def test_a_window_ending_at_midnight_gives_its_last_slot_before_midnight(owner):
    listing = ListingFactory(owner=owner)
    WeeklyWindowFactory(
        listing=listing, weekday=4, start_time=dt.time(23, 0), end_time=dt.time(0, 0)
    )

    with time_machine.travel(NOW, tick=False):
        slots = [s for s in free_slots(listing) if s.local_day.day == 4]

    assert [s.starts_at for s in slots] == [
        dt.datetime(2026, 12, 4, 17, 15, tzinfo=UTC),
        dt.datetime(2026, 12, 4, 17, 45, tzinfo=UTC),
    ]
    assert slots[-1].ends_at == nepal(2026, 12, 5, 0, 0)
    assert format_visit_time(slots[-1].starts_at) == "Fri, 4 Dec · 11:30 PM"


def test_a_slot_that_started_a_minute_ago_is_past(owner):
    listing = ListingFactory(owner=owner)
    AvailabilityFactory(listing=listing)
    WeeklyWindowFactory(listing=listing, weekday=5)
    tenant = UserFactory()

    with time_machine.travel(SAT_10AM + dt.timedelta(minutes=1), tick=False):
        assert free_slots(listing)[0].starts_at == nepal(2026, 12, 5, 10, 30)
        with pytest.raises(services.VisitError, match="already passed"):
            book(tenant, listing, SAT_10AM)


def test_visit_time_is_shown_in_nepal_12_hour_format():
    assert (
        format_visit_time(dt.datetime(2026, 12, 6, 4, 45, tzinfo=UTC))
        == "Sun, 6 Dec · 10:30 AM"
    )
    assert (
        format_visit_time(dt.datetime(2026, 12, 5, 18, 15, tzinfo=UTC))
        == "Sun, 6 Dec · 12:00 AM"
    )


def test_slot_value_round_trips_through_the_form(listing, frozen_now):
    option = free_slots(listing)[0]

    assert parse_slot_value(option.value) == option.starts_at
    assert parse_slot_value("2026-12-05T10:00") is None  # no offset
    assert parse_slot_value("tomorrow") is None


# --- Booking -----------------------------------------------------------------------


def test_request_is_pending_and_tells_the_owner(
    listing, tenant, frozen_now, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        visit = book(tenant, listing, note="  Two of us, after office.  ")

    assert visit.status == Visit.Status.PENDING
    assert visit.note == "Two of us, after office."
    assert visit.slot.booked == 1
    assert list(visit.events.values_list("kind", flat=True)) == ["requested"]
    note = Notification.objects.get(user=listing.owner)
    assert note.kind == Notification.Kind.VISIT_REQUEST
    assert "Sat, 5 Dec · 10:00 AM" in note.text
    assert note.url == visit.get_absolute_url()
    assert [m.to for m in mailbox] == [[listing.owner.email]]
    assert "Sat, 5 Dec · 10:00 AM" in mailbox[0].subject
    assert visit.get_absolute_url() in mailbox[0].body


def test_instant_booking_confirms_at_once_and_tells_both(
    owner, tenant, frozen_now, mailbox, django_capture_on_commit_callbacks
):
    listing = ListingFactory(owner=owner)
    AvailabilityFactory(listing=listing, instant_booking=True)
    WeeklyWindowFactory(listing=listing)

    with django_capture_on_commit_callbacks(execute=True):
        visit = book(tenant, listing)

    assert visit.status == Visit.Status.CONFIRMED
    assert set(Notification.objects.values_list("user", "kind")) == {
        (owner.pk, "visit_request"),
        (tenant.pk, "visit_confirmation"),
    }
    assert sorted(m.to[0] for m in mailbox) == sorted([owner.email, tenant.email])


def test_owner_cannot_request_visit_to_own_listing(listing, frozen_now):
    with pytest.raises(services.VisitError, match="your own listing"):
        book(listing.owner, listing)
    assert not Visit.objects.exists()


@pytest.mark.parametrize("status", ["draft", "pending", "rented", "archived"])
def test_unpublished_listing_cannot_be_booked(listing, tenant, frozen_now, status):
    Listing.objects.filter(pk=listing.pk).update(status=status)
    listing.refresh_from_db()

    with pytest.raises(services.VisitError, match="not open for visits"):
        book(tenant, listing)


def test_time_outside_the_windows_cannot_be_booked(listing, tenant, frozen_now):
    with pytest.raises(services.VisitError, match="not one of the owner"):
        book(tenant, listing, nepal(2026, 12, 5, 10, 10))
    with pytest.raises(services.VisitError, match="not one of the owner"):
        book(tenant, listing, nepal(2026, 12, 19, 10, 0))  # beyond 14 days
    BlockedDateFactory(listing=listing, date=dt.date(2026, 12, 5))
    with pytest.raises(services.VisitError, match="not one of the owner"):
        book(tenant, listing)
    assert not Slot.objects.exists()


def test_one_active_visit_per_tenant_and_listing(listing, tenant, frozen_now):
    first = book(tenant, listing)

    with pytest.raises(services.AlreadyBooked):
        book(tenant, listing, nepal(2026, 12, 5, 11, 0))
    assert not Slot.objects.filter(starts_at=nepal(2026, 12, 5, 11, 0), booked__gt=0)

    services.visit_cancel(visit=first, user=tenant, reason="Found a place")
    second = book(tenant, listing, nepal(2026, 12, 5, 11, 0))
    assert second.status == Visit.Status.PENDING


def test_database_refuses_a_second_active_visit(listing, tenant, frozen_now):
    visit = book(tenant, listing)

    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(listing=listing, tenant=tenant, slot=visit.slot)


def test_database_refuses_an_overbooked_slot(listing, tenant, frozen_now):
    visit = book(tenant, listing)

    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=visit.slot_id).update(booked=2)


def test_same_form_posted_twice_makes_one_visit(listing, tenant, frozen_now):
    key = uuid.uuid4()

    first = book(tenant, listing, idempotency_key=key)
    again = book(tenant, listing, idempotency_key=key)

    assert again.pk == first.pk
    assert Visit.objects.count() == 1
    assert Slot.objects.get().booked == 1
    assert Notification.objects.count() == 1


def test_open_house_slot_takes_as_many_as_its_capacity(owner, frozen_now):
    listing = ListingFactory(owner=owner)
    AvailabilityFactory(listing=listing, capacity=2)
    WeeklyWindowFactory(listing=listing)
    first, second, third = UserFactory(), UserFactory(), UserFactory()

    book(first, listing)
    assert free_slots(listing)[0].remaining == 1
    book(second, listing)

    with pytest.raises(services.SlotTaken, match="just taken"):
        book(third, listing)
    assert free_slots(listing)[0].starts_at == nepal(2026, 12, 5, 10, 30)
    assert Slot.objects.get(starts_at=SAT_10AM).booked == 2


# --- Both sides act ----------------------------------------------------------------


@pytest.fixture
def pending(listing, tenant, frozen_now):
    return book(tenant, listing, note="After 10 please")


def test_owner_confirms_and_the_tenant_is_told(pending, owner, tenant):
    visit = services.visit_confirm(visit=pending, owner=owner)

    assert visit.status == Visit.Status.CONFIRMED
    assert visit.shows_owner_phone_to(tenant)
    assert Notification.objects.filter(
        user=tenant, kind=Notification.Kind.VISIT_CONFIRMATION
    ).exists()


def test_tenant_cannot_confirm_their_own_request(pending, tenant):
    with pytest.raises(services.VisitError):
        services.visit_confirm(visit=pending, owner=tenant)
    pending.refresh_from_db()
    assert pending.status == Visit.Status.PENDING


def test_decline_frees_the_place_and_keeps_the_reason(pending, owner, tenant):
    visit = services.visit_decline(visit=pending, owner=owner, reason="Already let")

    assert visit.status == Visit.Status.DECLINED
    assert visit.decline_reason == "Already let"
    assert Slot.objects.get(pk=visit.slot_id).booked == 0
    note = Notification.objects.get(user=tenant)
    assert note.kind == Notification.Kind.VISIT_DECLINE
    assert "Already let" in note.text


def test_proposal_moves_the_held_place_and_tenant_accepts(pending, owner, tenant):
    eleven = nepal(2026, 12, 5, 11, 0)

    visit = services.visit_propose(visit=pending, owner=owner, starts_at=eleven)

    assert visit.status == Visit.Status.PROPOSED
    assert Slot.objects.get(starts_at=SAT_10AM).booked == 0
    assert Slot.objects.get(starts_at=eleven).booked == 1
    assert Notification.objects.filter(
        user=tenant, kind=Notification.Kind.VISIT_PROPOSAL
    ).exists()

    visit = services.visit_accept_proposal(visit=visit, tenant=tenant)

    assert visit.status == Visit.Status.CONFIRMED
    assert visit.slot.starts_at == eleven
    assert visit.proposed_slot is None
    assert list(visit.events.values_list("kind", "status")) == [
        ("requested", "pending"),
        ("proposed", "proposed"),
        ("accepted", "confirmed"),
    ]


def test_owner_cannot_propose_a_time_that_is_not_free(pending, owner, listing):
    other = book(UserFactory(), listing, nepal(2026, 12, 5, 11, 0))

    with pytest.raises(services.SlotTaken):
        services.visit_propose(
            visit=pending, owner=owner, starts_at=other.slot.starts_at
        )
    with pytest.raises(services.VisitError):
        services.visit_propose(visit=pending, owner=owner, starts_at=SAT_10AM)
    pending.refresh_from_db()
    assert pending.status == Visit.Status.PENDING


def test_tenant_declining_the_proposal_ends_the_visit(pending, owner, tenant):
    visit = services.visit_propose(
        visit=pending, owner=owner, starts_at=nepal(2026, 12, 5, 11, 0)
    )

    visit = services.visit_reject_proposal(visit=visit, tenant=tenant, reason="")

    assert visit.status == Visit.Status.CANCELLED
    assert visit.cancelled_by == tenant
    assert visit.cancel_reason
    assert not Slot.objects.filter(booked__gt=0).exists()
    assert Notification.objects.filter(
        user=owner, kind=Notification.Kind.VISIT_CANCELLATION
    ).exists()


@pytest.mark.parametrize("who", ["tenant", "owner"])
def test_either_side_cancels_with_a_reason_and_the_other_is_told(
    pending, owner, tenant, who
):
    actor, other = (tenant, owner) if who == "tenant" else (owner, tenant)
    services.visit_confirm(visit=pending, owner=owner)

    visit = services.visit_cancel(visit=pending, user=actor, reason="Unwell")

    assert visit.status == Visit.Status.CANCELLED
    assert visit.cancelled_by == actor
    assert Slot.objects.get().booked == 0
    note = Notification.objects.get(kind=Notification.Kind.VISIT_CANCELLATION)
    assert note.user == other
    assert visit.events.last().text == "Unwell"
    assert "Unwell" in note.text


def test_owner_declines_rather_than_cancels_a_pending_request(pending, owner):
    with pytest.raises(services.VisitError):
        services.visit_cancel(visit=pending, user=owner, reason="No")
    pending.refresh_from_db()
    assert pending.status == Visit.Status.PENDING


def test_a_stranger_cannot_cancel(pending):
    with pytest.raises(services.VisitError):
        services.visit_cancel(visit=pending, user=UserFactory(), reason="x")


def test_outcome_only_after_the_visit_started(pending, owner):
    services.visit_confirm(visit=pending, owner=owner)
    with pytest.raises(services.VisitError):
        services.visit_record_outcome(visit=pending, owner=owner, outcome="done")

    with time_machine.travel(SAT_10AM + dt.timedelta(minutes=40), tick=False):
        visit = services.visit_record_outcome(
            visit=pending, owner=owner, outcome="no_show"
        )

    assert visit.status == Visit.Status.NO_SHOW
    assert visit.events.last().kind == VisitEvent.Kind.NO_SHOW


# --- After the visit ----------------------------------------------------------------


@pytest.fixture
def done(pending, owner):
    services.visit_confirm(visit=pending, owner=owner)
    with time_machine.travel(SAT_10AM + dt.timedelta(hours=1), tick=False):
        visit = services.visit_record_outcome(
            visit=pending, owner=owner, outcome="done"
        )
    return visit


def test_marking_done_asks_the_tenant_for_feedback(done, tenant):
    assert Notification.objects.filter(
        user=tenant, kind=Notification.Kind.VISIT_FEEDBACK
    ).exists()
    assert done.can_give_feedback(tenant)


@pytest.mark.parametrize(
    ("accurate", "commission", "needs_review"),
    [
        (True, False, False),
        (False, False, True),
        (True, True, True),
        (False, True, True),
    ],
)
def test_feedback_reaches_moderation_when_worrying(
    done, tenant, accurate, commission, needs_review
):
    feedback = services.visit_feedback_give(
        visit=done,
        tenant=tenant,
        listing_accurate=accurate,
        commission_asked=commission,
        comment="",
    )

    assert feedback.needs_review is needs_review
    assert (feedback in VisitFeedback.objects.needing_review()) is needs_review


def test_feedback_is_given_once_and_staff_resolve_it(done, tenant, staff):
    services.visit_feedback_give(
        visit=done, tenant=tenant, listing_accurate=True, commission_asked=True
    )
    done.refresh_from_db()
    with pytest.raises(services.VisitError):
        services.visit_feedback_give(
            visit=done, tenant=tenant, listing_accurate=True, commission_asked=False
        )

    count = services.visit_feedback_resolve(
        feedbacks=VisitFeedback.objects.all(), staff=staff
    )

    assert count == 1
    assert not VisitFeedback.objects.needing_review().exists()
    assert VisitFeedback.objects.get().resolved_by == staff


# --- Reminders ---------------------------------------------------------------------


def _reminders():
    return list(
        Notification.objects.filter(kind=Notification.Kind.VISIT_REMINDER)
        .order_by("user_id")
        .values_list("user_id", "text")
    )


def test_reminders_go_out_24_and_2_hours_before_and_never_twice(
    pending, owner, tenant, mailbox, django_capture_on_commit_callbacks
):
    services.visit_confirm(visit=pending, owner=owner)
    mailbox.clear()

    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=25)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        sent_24h = services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=23))
    again = services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=22))

    assert (sent_24h, again) == (1, 0)
    assert len(_reminders()) == 2
    assert all("24 hours" in text for _, text in _reminders())
    assert sorted(m.to[0] for m in mailbox) == sorted([owner.email, tenant.email])

    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(minutes=110)) == 1
    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(minutes=100)) == 0
    assert len(_reminders()) == 4
    pending.refresh_from_db()
    assert pending.reminder_2h_sent_at is not None


def test_a_visit_booked_late_gets_only_the_2_hour_reminder(pending, owner):
    services.visit_confirm(visit=pending, owner=owner)

    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=1)) == 1
    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(minutes=50)) == 0

    texts = [text for _, text in _reminders()]
    assert len(texts) == 2
    assert all("2 hours" in text for text in texts)


def test_no_reminders_for_unconfirmed_or_cancelled_visits(pending, tenant):
    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=1)) == 0
    services.visit_cancel(visit=pending, user=tenant, reason="Changed plans")
    assert services.visit_send_reminders(now=SAT_10AM - dt.timedelta(hours=1)) == 0
    assert _reminders() == []


def test_reminder_task_runs_through_the_tasks_backend(pending, owner):
    from visits.tasks import send_visit_reminders

    services.visit_confirm(visit=pending, owner=owner)
    with time_machine.travel(SAT_10AM - dt.timedelta(hours=3), tick=False):
        result = send_visit_reminders.enqueue()

    assert result.return_value == 1
    assert len(_reminders()) == 2


# --- Counts ----------------------------------------------------------------------


def test_visit_counts_per_listing_in_one_query(
    listing, owner, frozen_now, django_assert_num_queries
):
    quiet = ListingFactory(owner=owner)
    a = book(UserFactory(), listing)
    book(UserFactory(), listing, nepal(2026, 12, 5, 10, 30))
    services.visit_confirm(visit=a, owner=owner)
    declined = book(UserFactory(), listing, nepal(2026, 12, 5, 11, 0))
    services.visit_decline(visit=declined, owner=owner, reason="No")

    with django_assert_num_queries(1):
        counts = services.visit_counts_for_listings([listing.pk, quiet.pk])

    assert counts[listing.pk] == {"total": 3, "pending": 1, "upcoming": 2, "done": 0}
    assert counts[quiet.pk] == {"total": 0, "pending": 0, "upcoming": 0, "done": 0}


# --- Housekeeping ------------------------------------------------------------------


def test_unanswered_request_is_closed_after_its_time_and_tenant_may_book_again(
    pending, tenant, listing
):
    later = SAT_10AM + dt.timedelta(minutes=5)

    assert services.visits_close_stale(now=later) == 1
    assert services.visits_close_stale(now=later) == 0

    pending.refresh_from_db()
    assert pending.status == Visit.Status.CANCELLED
    assert pending.events.last().actor is None
    assert Notification.objects.filter(
        user=tenant, kind=Notification.Kind.VISIT_CANCELLATION
    ).exists()
    with time_machine.travel(later, tick=False):
        again = book(tenant, listing, nepal(2026, 12, 12, 10, 0))
    assert again.status == Visit.Status.PENDING


def test_booking_again_closes_an_unanswered_past_request_itself(
    pending, tenant, listing
):
    with time_machine.travel(SAT_10AM + dt.timedelta(hours=1), tick=False):
        again = book(tenant, listing, nepal(2026, 12, 12, 10, 0))

    pending.refresh_from_db()
    assert pending.status == Visit.Status.CANCELLED
    assert again.status == Visit.Status.PENDING


def test_confirmed_visit_counts_as_done_three_days_after_unless_marked(
    pending, owner, tenant, listing
):
    services.visit_confirm(visit=pending, owner=owner)
    two_days = SAT_10AM + dt.timedelta(days=2)

    assert services.visits_close_stale(now=two_days) == 0
    with (
        time_machine.travel(two_days, tick=False),
        pytest.raises(services.AlreadyBooked, match="still open"),
    ):
        book(tenant, listing, nepal(2026, 12, 12, 10, 0))

    assert (
        services.visits_close_stale(now=SAT_10AM + dt.timedelta(days=3, hours=1)) == 1
    )
    pending.refresh_from_db()
    assert pending.status == Visit.Status.DONE
    assert pending.can_give_feedback(tenant)
    assert Notification.objects.filter(
        user=tenant, kind=Notification.Kind.VISIT_FEEDBACK
    ).exists()


def test_unanswered_proposal_is_closed_after_the_proposed_time(pending, owner):
    eleven = nepal(2026, 12, 5, 11, 0)
    services.visit_propose(visit=pending, owner=owner, starts_at=eleven)

    assert services.visits_close_stale(now=SAT_10AM + dt.timedelta(minutes=30)) == 0
    assert services.visits_close_stale(now=eleven + dt.timedelta(minutes=1)) == 1
    assert Slot.objects.get(starts_at=eleven).booked == 0


def test_listing_page_slots_are_cached_and_forgotten_when_a_place_is_taken(
    listing,
    tenant,
    frozen_now,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    first = next_free_slots(listing)
    assert first[0].starts_at == SAT_10AM
    with django_assert_num_queries(0):
        assert next_free_slots(listing) == first
    with django_capture_on_commit_callbacks(execute=True):
        book(tenant, listing)
    assert next_free_slots(listing)[0].starts_at == nepal(2026, 12, 5, 10, 30)


def test_active_for_is_the_tenants_open_visit_to_that_listing_only(
    listing, tenant, frozen_now
):
    visit = services.visit_request(
        tenant=tenant, listing=listing, starts_at=nepal(2026, 12, 5, 10, 0)
    )
    other_tenant = UserFactory(role="tenant")
    other_listing = ListingFactory(owner=listing.owner)

    assert list(Visit.objects.active_for(tenant, listing)) == [visit]
    assert not Visit.objects.active_for(other_tenant, listing).exists()
    assert not Visit.objects.active_for(tenant, other_listing).exists()
    services.visit_cancel(visit=visit, user=tenant, reason="Found a flat")
    assert not Visit.objects.active_for(tenant, listing).exists()
