"""
Visits: booking with a row lock on the slot's ledger, the owner's and
tenant's actions, reminders and counts. Which slots exist is `visits.slots`.
"""

import datetime as dt
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Notification, User
from accounts.notifications import notification_send
from listings.models import Listing
from listings.stats import count_event
from visits import slots
from visits.models import (
    Availability,
    Slot,
    Visit,
    VisitEvent,
    VisitFeedback,
)


class VisitError(Exception):
    """A request the rules refuse; the message is shown to the person as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SlotTaken(VisitError):
    pass


class AlreadyBooked(VisitError):
    pass


# --- Places in slots -----------------------------------------------------------


def _take_place(
    *, listing: Listing, starts_at: dt.datetime, ends_at: dt.datetime, capacity: int
) -> Slot:
    """
    Takes one place in the slot under a row lock. A second booker waits on the
    lock, then sees the updated count: the constraint backs this up.
    """
    slot, _created = Slot.objects.get_or_create(
        listing=listing,
        starts_at=starts_at,
        defaults={"ends_at": ends_at, "capacity": capacity},
    )
    slot = Slot.objects.select_for_update().get(pk=slot.pk)
    if slot.booked >= capacity:
        raise SlotTaken(_("This slot was just taken. Please pick another time."))
    slot.booked += 1
    slot.capacity = capacity
    slot.save(update_fields=["booked", "capacity"])
    slots.forget_free_slots(listing.pk)
    return slot


def _release_place(slot: Slot | None) -> None:
    if slot is None:
        return
    Slot.objects.filter(pk=slot.pk, booked__gt=0).update(booked=F("booked") - 1)
    slots.forget_free_slots(slot.listing_id)


def _lock(visit: Visit) -> Visit:
    """The visit re-read under a row lock, so two actions never cross."""
    return (
        Visit.objects.select_for_update(of=("self",))
        .select_related("slot", "proposed_slot", "listing__owner", "tenant")
        .get(pk=visit.pk)
    )


def _record(
    visit: Visit, *, actor: User | None, kind: str, text: str = "", slot=None
) -> VisitEvent:
    return VisitEvent.objects.create(
        visit=visit,
        actor=actor,
        kind=kind,
        status=visit.status,
        text=text,
        slot_starts_at=slot.starts_at if slot else None,
    )


def _notify(visit: Visit, *, user: User, kind: str, text: str) -> None:
    notification_send(
        user=user,
        kind=kind,
        text=text,
        url=visit.get_absolute_url(),
        email_context={"visit": visit},
    )


# --- Booking --------------------------------------------------------------------


@transaction.atomic
def visit_request(
    *,
    tenant: User,
    listing: Listing,
    starts_at: dt.datetime,
    note: str = "",
    idempotency_key: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Visit:
    """
    Books a place in a free slot for the tenant: pending, or confirmed at once
    when the owner chose instant booking. Posting the same form twice (same
    idempotency key) returns the first visit.
    """
    now = now or timezone.now()
    if idempotency_key:
        earlier = Visit.objects.filter(
            idempotency_key=idempotency_key, tenant=tenant
        ).first()
        if earlier is not None:
            return earlier
    if listing.owner_id == tenant.pk:
        raise VisitError(_("You cannot book a visit to your own listing."))
    if listing.status != Listing.Status.PUBLISHED:
        raise VisitError(_("This listing is not open for visits."))
    if starts_at <= now:
        raise VisitError(_("That time has already passed. Please pick a later slot."))
    ends_at = slots.bookable_end(listing, starts_at, now)
    if ends_at is None:
        raise VisitError(_("That time is not one of the owner's visiting slots."))

    already = _(
        "You already have a visit to this listing. Cancel it first to pick another time."
    )
    # A request nobody answered before its time no longer blocks a new one.
    _close_stale(
        Visit.objects.filter(tenant=tenant, listing=listing), now=now, notify=False
    )
    current = Visit.objects.active_for(tenant, listing).first()
    if current is not None and current.has_started(now):
        raise AlreadyBooked(
            _(
                "Your last visit here is still open until the owner marks it "
                "(at most three days after it). Please try again then."
            )
        )
    if current is not None:
        raise AlreadyBooked(already)

    availability = slots.availability_for(listing)
    slot = _take_place(
        listing=listing,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=availability.capacity,
    )
    # Under the slot lock the other submissions of the same form have committed.
    if idempotency_key:
        earlier = Visit.objects.filter(
            idempotency_key=idempotency_key, tenant=tenant
        ).first()
        if earlier is not None:
            # Nothing this call did is kept: the place stays with the first one.
            transaction.set_rollback(True)
            return earlier
    if Visit.objects.active_for(tenant, listing).exists():
        raise AlreadyBooked(already)
    instant = availability.instant_booking
    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                listing=listing,
                tenant=tenant,
                slot=slot,
                note=note.strip(),
                status=Visit.Status.CONFIRMED if instant else Visit.Status.PENDING,
                idempotency_key=idempotency_key,
                created_at=now,
            )
    except IntegrityError as exc:
        raise AlreadyBooked(already) from exc
    _record(
        visit, actor=tenant, kind=VisitEvent.Kind.REQUESTED, text=visit.note, slot=slot
    )
    when = slots.format_visit_time(slot.starts_at)
    if instant:
        _record(
            visit, actor=None, kind=VisitEvent.Kind.CONFIRMED, text=_("Instant booking")
        )
        _notify(
            visit,
            user=listing.owner,
            kind=Notification.Kind.VISIT_REQUEST,
            text=_("%(name)s booked a visit to “%(title)s” on %(when)s.")
            % {"name": tenant.first_name, "title": listing.title, "when": when},
        )
        _notify(
            visit,
            user=tenant,
            kind=Notification.Kind.VISIT_CONFIRMATION,
            text=_("Your visit to “%(title)s” on %(when)s is confirmed.")
            % {"title": listing.title, "when": when},
        )
    else:
        _notify(
            visit,
            user=listing.owner,
            kind=Notification.Kind.VISIT_REQUEST,
            text=_(
                "%(name)s asks to visit “%(title)s” on %(when)s. Please confirm or decline."
            )
            % {"name": tenant.first_name, "title": listing.title, "when": when},
        )
    count_event("visit_request", listing.pk)
    return visit


def _require(allowed: bool) -> None:
    if not allowed:
        raise VisitError(_("This visit has changed meanwhile; nothing was done."))


@transaction.atomic
def visit_confirm(*, visit: Visit, owner: User) -> Visit:
    """The owner accepts a pending request."""
    visit = _lock(visit)
    _require(visit.can_confirm(owner))
    visit.status = Visit.Status.CONFIRMED
    visit.save(update_fields=["status", "updated_at"])
    _record(visit, actor=owner, kind=VisitEvent.Kind.CONFIRMED)
    _notify(
        visit,
        user=visit.tenant,
        kind=Notification.Kind.VISIT_CONFIRMATION,
        text=_("%(name)s confirmed your visit to “%(title)s” on %(when)s.")
        % {
            "name": owner.first_name,
            "title": visit.listing.title,
            "when": slots.format_visit_time(visit.slot.starts_at),
        },
    )
    return visit


@transaction.atomic
def visit_decline(*, visit: Visit, owner: User, reason: str) -> Visit:
    """The owner turns a pending request down, saying why; the place is freed."""
    visit = _lock(visit)
    _require(visit.can_decline(owner))
    _release_place(visit.held_slot)
    visit.status = Visit.Status.DECLINED
    visit.decline_reason = reason.strip()
    visit.save(update_fields=["status", "decline_reason", "updated_at"])
    _record(
        visit, actor=owner, kind=VisitEvent.Kind.DECLINED, text=visit.decline_reason
    )
    _notify(
        visit,
        user=visit.tenant,
        kind=Notification.Kind.VISIT_DECLINE,
        text=_("Your visit to “%(title)s” on %(when)s was declined: %(reason)s")
        % {
            "title": visit.listing.title,
            "when": slots.format_visit_time(visit.slot.starts_at),
            "reason": visit.decline_reason,
        },
    )
    return visit


@transaction.atomic
def visit_propose(
    *, visit: Visit, owner: User, starts_at: dt.datetime, now: dt.datetime | None = None
) -> Visit:
    """The owner offers another free slot; it is held until the tenant answers."""
    now = now or timezone.now()
    visit = _lock(visit)
    _require(visit.can_propose(owner))
    if starts_at == visit.slot.starts_at:
        raise VisitError(_("Pick a time other than the one already booked."))
    ends_at = slots.bookable_end(visit.listing, starts_at, now)
    if ends_at is None:
        raise VisitError(_("That time is not one of your free visiting slots."))
    new_slot = _take_place(
        listing=visit.listing,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=slots.availability_for(visit.listing).capacity,
    )
    _release_place(visit.held_slot)
    visit.status = Visit.Status.PROPOSED
    visit.proposed_slot = new_slot
    visit.save(update_fields=["status", "proposed_slot", "updated_at"])
    _record(visit, actor=owner, kind=VisitEvent.Kind.PROPOSED, slot=new_slot)
    _notify(
        visit,
        user=visit.tenant,
        kind=Notification.Kind.VISIT_PROPOSAL,
        text=_(
            "%(name)s proposes %(when)s for your visit to “%(title)s”. Accept or decline it."
        )
        % {
            "name": owner.first_name,
            "when": slots.format_visit_time(new_slot.starts_at),
            "title": visit.listing.title,
        },
    )
    return visit


@transaction.atomic
def visit_accept_proposal(*, visit: Visit, tenant: User) -> Visit:
    """The tenant takes the proposed time: the visit is confirmed for it."""
    visit = _lock(visit)
    _require(visit.can_answer_proposal(tenant))
    visit.slot = visit.proposed_slot
    visit.proposed_slot = None
    visit.status = Visit.Status.CONFIRMED
    visit.save(update_fields=["slot", "proposed_slot", "status", "updated_at"])
    _record(visit, actor=tenant, kind=VisitEvent.Kind.ACCEPTED, slot=visit.slot)
    _notify(
        visit,
        user=visit.listing.owner,
        kind=Notification.Kind.VISIT_CONFIRMATION,
        text=_("%(name)s accepted %(when)s for the visit to “%(title)s”.")
        % {
            "name": tenant.first_name,
            "when": slots.format_visit_time(visit.slot.starts_at),
            "title": visit.listing.title,
        },
    )
    return visit


@transaction.atomic
def visit_reject_proposal(*, visit: Visit, tenant: User, reason: str = "") -> Visit:
    """The tenant turns the proposed time down; the visit ends there."""
    visit = _lock(visit)
    _require(visit.can_answer_proposal(tenant))
    _release_place(visit.held_slot)
    visit.status = Visit.Status.CANCELLED
    visit.cancelled_by = tenant
    visit.cancel_reason = reason.strip() or _("The proposed time did not suit.")
    visit.save(update_fields=["status", "cancelled_by", "cancel_reason", "updated_at"])
    _record(
        visit, actor=tenant, kind=VisitEvent.Kind.REJECTED, text=visit.cancel_reason
    )
    _notify(
        visit,
        user=visit.listing.owner,
        kind=Notification.Kind.VISIT_CANCELLATION,
        text=_("%(name)s declined the time you proposed for “%(title)s”: %(reason)s")
        % {
            "name": tenant.first_name,
            "title": visit.listing.title,
            "reason": visit.cancel_reason,
        },
    )
    return visit


@transaction.atomic
def visit_cancel(*, visit: Visit, user: User, reason: str) -> Visit:
    """Either party calls an upcoming visit off, saying why; the place is freed."""
    visit = _lock(visit)
    _require(visit.can_cancel(user))
    _release_place(visit.held_slot)
    visit.status = Visit.Status.CANCELLED
    visit.cancelled_by = user
    visit.cancel_reason = reason.strip()
    visit.save(update_fields=["status", "cancelled_by", "cancel_reason", "updated_at"])
    _record(visit, actor=user, kind=VisitEvent.Kind.CANCELLED, text=visit.cancel_reason)
    other = visit.listing.owner if visit.is_tenant(user) else visit.tenant
    _notify(
        visit,
        user=other,
        kind=Notification.Kind.VISIT_CANCELLATION,
        text=_("%(name)s cancelled the visit to “%(title)s” on %(when)s: %(reason)s")
        % {
            "name": user.first_name,
            "title": visit.listing.title,
            "when": slots.format_visit_time(visit.slot.starts_at),
            "reason": visit.cancel_reason,
        },
    )
    return visit


@transaction.atomic
def visit_record_outcome(*, visit: Visit, owner: User, outcome: str) -> Visit:
    """After the time, the owner marks the visit done or a no-show."""
    if outcome not in (Visit.Status.DONE, Visit.Status.NO_SHOW):
        raise VisitError(_("Choose whether the visit happened."))
    visit = _lock(visit)
    _require(visit.can_record_outcome(owner))
    visit.status = outcome
    visit.save(update_fields=["status", "updated_at"])
    kind = (
        VisitEvent.Kind.DONE
        if outcome == Visit.Status.DONE
        else VisitEvent.Kind.NO_SHOW
    )
    _record(visit, actor=owner, kind=kind)
    if outcome == Visit.Status.DONE:
        _ask_for_feedback(visit)
        count_event("visit_done", visit.listing_id)
    return visit


def _ask_for_feedback(visit: Visit) -> None:
    _notify(
        visit,
        user=visit.tenant,
        kind=Notification.Kind.VISIT_FEEDBACK,
        text=_(
            "How was your visit to “%(title)s”? Two quick questions help keep brokers out."
        )
        % {"title": visit.listing.title},
    )


@transaction.atomic
def visit_feedback_give(
    *,
    visit: Visit,
    tenant: User,
    listing_accurate: bool,
    commission_asked: bool,
    comment: str = "",
) -> VisitFeedback:
    """
    Stores the tenant's answers; an inaccurate listing or a commission demand
    goes to the moderation queue.
    """
    visit = _lock(visit)
    _require(visit.can_give_feedback(tenant))
    feedback = VisitFeedback.objects.create(
        visit=visit,
        listing_accurate=listing_accurate,
        commission_asked=commission_asked,
        comment=comment.strip(),
        needs_review=commission_asked or not listing_accurate,
    )
    _record(visit, actor=tenant, kind=VisitEvent.Kind.FEEDBACK)
    return feedback


@transaction.atomic
def visit_feedback_resolve(*, feedbacks: QuerySet, staff: User) -> int:
    """Staff close the review of feedback items; returns how many."""
    return feedbacks.filter(needs_review=True, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=staff
    )


@transaction.atomic
def availability_update(*, availability_form, formsets) -> Availability:
    """Saves the listing's visiting settings and its windows together."""
    availability = availability_form.save()
    for formset in formsets:
        formset.save()
    slots.forget_free_slots(availability.listing_id)
    return availability


# --- Housekeeping ---------------------------------------------------------------

# How long an owner has to mark a confirmed visit a no-show before it counts as done.
OUTCOME_GRACE = dt.timedelta(days=3)


def _close_stale(visits: QuerySet, *, now: dt.datetime, notify: bool = True) -> int:
    closed = 0
    unanswered = visits.filter(
        Q(status=Visit.Status.PENDING, slot__starts_at__lte=now)
        | Q(status=Visit.Status.PROPOSED, proposed_slot__starts_at__lte=now)
    )
    for pk in list(unanswered.values_list("pk", flat=True)):
        visit = _lock(Visit(pk=pk))
        if visit.held_slot is None or visit.held_slot.starts_at > now:
            continue
        _release_place(visit.held_slot)
        visit.status = Visit.Status.CANCELLED
        visit.cancel_reason = _("Not confirmed before the visit time.")
        visit.save(update_fields=["status", "cancel_reason", "updated_at"])
        _record(
            visit, actor=None, kind=VisitEvent.Kind.CANCELLED, text=visit.cancel_reason
        )
        if notify:
            _notify(
                visit,
                user=visit.tenant,
                kind=Notification.Kind.VISIT_CANCELLATION,
                text=_(
                    "Your visit request for “%(title)s” was not confirmed in time. "
                    "You can book another time."
                )
                % {"title": visit.listing.title},
            )
        closed += 1
    unmarked = visits.filter(
        status=Visit.Status.CONFIRMED, slot__ends_at__lte=now - OUTCOME_GRACE
    )
    for pk in list(unmarked.values_list("pk", flat=True)):
        visit = _lock(Visit(pk=pk))
        if visit.status != Visit.Status.CONFIRMED:
            continue
        visit.status = Visit.Status.DONE
        visit.save(update_fields=["status", "updated_at"])
        _record(
            visit,
            actor=None,
            kind=VisitEvent.Kind.DONE,
            text=_("Marked done automatically: the owner did not report a no-show."),
        )
        if notify:
            _ask_for_feedback(visit)
        closed += 1
    return closed


@transaction.atomic
def visits_close_stale(*, now: dt.datetime | None = None) -> int:
    """
    Ends requests that were never answered before their time, and counts
    confirmed visits as done once the owner had three days to report a no-show.
    Returns how many visits changed.
    """
    return _close_stale(Visit.objects.all(), now=now or timezone.now())


# --- Reminders ------------------------------------------------------------------


def _remind(visit: Visit, *, hours: int) -> None:
    when = slots.format_visit_time(visit.slot.starts_at)
    for user in (visit.tenant, visit.listing.owner):
        _notify(
            visit,
            user=user,
            kind=Notification.Kind.VISIT_REMINDER,
            text=_(
                "Reminder: the visit to “%(title)s” is on %(when)s (in about %(hours)d hours)."
            )
            % {"title": visit.listing.title, "when": when, "hours": hours},
        )


def visit_send_reminders(*, now: dt.datetime | None = None) -> int:
    """
    Reminds both parties of confirmed visits 24 hours and 2 hours ahead. Each
    reminder is claimed by a conditional UPDATE of its flag, so overlapping or
    repeated runs never send one twice. Returns the number of visits reminded.
    """
    now = now or timezone.now()
    confirmed = Visit.objects.filter(
        status=Visit.Status.CONFIRMED, slot__starts_at__gt=now
    )
    sent = 0
    due_2h = confirmed.filter(
        slot__starts_at__lte=now + dt.timedelta(hours=2),
        reminder_2h_sent_at__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(due_2h):
        with transaction.atomic():
            # The 24-hour reminder is pointless once the 2-hour one is out.
            claimed = Visit.objects.filter(
                pk=pk, status=Visit.Status.CONFIRMED, reminder_2h_sent_at__isnull=True
            ).update(
                reminder_2h_sent_at=now,
                reminder_24h_sent_at=Coalesce(F("reminder_24h_sent_at"), now),
            )
            if claimed:
                _remind(Visit.objects.with_related().get(pk=pk), hours=2)
                sent += 1
    due_24h = confirmed.filter(
        slot__starts_at__gt=now + dt.timedelta(hours=2),
        slot__starts_at__lte=now + dt.timedelta(hours=24),
        reminder_24h_sent_at__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(due_24h):
        with transaction.atomic():
            claimed = Visit.objects.filter(
                pk=pk, status=Visit.Status.CONFIRMED, reminder_24h_sent_at__isnull=True
            ).update(reminder_24h_sent_at=now)
            if claimed:
                _remind(Visit.objects.with_related().get(pk=pk), hours=24)
                sent += 1
    return sent


# --- Counts for the owner's listing stats ---------------------------------------


def annotate_visit_counts(
    listings: QuerySet, *, now: dt.datetime | None = None
) -> QuerySet:
    """Adds visits_total, visits_pending, visits_upcoming and visits_done to listings."""
    now = now or timezone.now()
    return listings.annotate(
        visits_total=Count("visits", distinct=True),
        visits_pending=Count(
            "visits", filter=Q(visits__status=Visit.Status.PENDING), distinct=True
        ),
        visits_upcoming=Count(
            "visits",
            filter=Q(
                visits__status__in=Visit.ACTIVE_STATUSES,
                visits__slot__ends_at__gt=now,
            ),
            distinct=True,
        ),
        visits_done=Count(
            "visits", filter=Q(visits__status=Visit.Status.DONE), distinct=True
        ),
    )


def visit_counts_for_listings(
    listing_ids, *, now: dt.datetime | None = None
) -> dict[int, dict[str, int]]:
    """
    {listing_id: {"total", "pending", "upcoming", "done"}} in one query; a
    listing without visits maps to zeros.
    """
    ids = list(listing_ids)
    counts = {pk: {"total": 0, "pending": 0, "upcoming": 0, "done": 0} for pk in ids}
    rows = annotate_visit_counts(Listing.objects.filter(pk__in=ids), now=now).values(
        "pk", "visits_total", "visits_pending", "visits_upcoming", "visits_done"
    )
    for row in rows:
        counts[row["pk"]] = {
            "total": row["visits_total"],
            "pending": row["visits_pending"],
            "upcoming": row["visits_upcoming"],
            "done": row["visits_done"],
        }
    return counts
