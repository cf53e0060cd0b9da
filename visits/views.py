import uuid
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from listings.models import Listing
from visits import services, slots
from visits.forms import (
    AvailabilityForm,
    BlockedDateFormSet,
    BookingForm,
    CancelForm,
    DateWindowFormSet,
    DeclineForm,
    FeedbackForm,
    OptionalReasonForm,
    OutcomeForm,
    ProposeForm,
    WeeklyWindowFormSet,
)
from visits.ics import visit_calendar
from visits.models import Visit


def group_by_day(options):
    return [
        (day, list(items)) for day, items in groupby(options, lambda o: o.local_day)
    ]


# --- Tenant pages -----------------------------------------------------------------


@login_required
def visit_list(request):
    now = timezone.now()
    visits = Visit.objects.for_tenant(request.user).with_related()
    return render(
        request,
        "visits/visit_list.html",
        {
            "upcoming": visits.upcoming(now).order_by("slot__starts_at"),
            "past": visits.past(now).order_by("-slot__starts_at")[:50],
        },
    )


def _booking_page(request, listing, form, *, status=200, active_visit=None):
    options = slots.free_slots(listing)
    selected = form["slot"].value()
    # The first days and the day of the chosen time start unfolded.
    days = [
        {
            "day": day,
            "options": items,
            "open": index < 2 or any(o.value == selected for o in items),
        }
        for index, (day, items) in enumerate(group_by_day(options))
    ]
    return render(
        request,
        "visits/visit_form.html",
        {
            "listing": listing,
            "form": form,
            "days": days,
            "selected": selected,
            "active_visit": active_visit,
            "is_owner": listing.can_be_edited_by(request.user),
        },
        status=status,
    )


@login_required
def visit_book(request, listing_pk):
    listing = get_object_or_404(
        Listing.objects.select_related("owner", "locality"), pk=listing_pk
    )
    if not listing.is_visible_to(request.user):
        raise Http404
    active_visit = (
        Visit.objects.active_for(request.user, listing).select_related("slot").first()
    )
    if request.method != "POST":
        form = BookingForm(
            initial={"idempotency_key": uuid.uuid4(), "slot": request.GET.get("slot")}
        )
        return _booking_page(request, listing, form, active_visit=active_visit)

    form = BookingForm(request.POST)
    if not form.is_valid():
        return _booking_page(request, listing, form, status=400)
    try:
        visit = services.visit_request(
            tenant=request.user,
            listing=listing,
            starts_at=form.cleaned_data["slot"],
            note=form.cleaned_data["note"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except services.SlotTaken as error:
        form.add_error(None, error.message)
        return _booking_page(request, listing, form, status=409)
    except services.VisitError as error:
        form.add_error(None, error.message)
        return _booking_page(
            request, listing, form, status=400, active_visit=active_visit
        )
    if visit.status == Visit.Status.CONFIRMED:
        messages.success(request, _("Your visit is confirmed. See you there!"))
    else:
        messages.success(
            request,
            _(
                "Request sent. The owner will confirm or propose another time; we'll email you."
            ),
        )
    return redirect(visit)


# --- One visit ------------------------------------------------------------------


def _visit_for(request, pk) -> Visit:
    """The visit if the person is one of its two parties; 404 for everyone else."""
    return get_object_or_404(
        Visit.objects.involving(request.user).with_related(), pk=pk
    )


def _detail_page(request, visit, *, status=200, **forms):
    user = request.user
    context = {
        "visit": visit,
        "events": visit.events.select_related("actor"),
        "is_owner": visit.is_owner(user),
        "is_tenant": visit.is_tenant(user),
        "show_phone": visit.shows_owner_phone_to(user),
        "feedback": getattr(visit, "feedback", None) if visit.is_tenant(user) else None,
    }
    if visit.can_decline(user):
        context["decline_form"] = forms.get("decline_form") or DeclineForm(
            prefix="decline"
        )
    if visit.can_propose(user):
        context["propose_form"] = forms.get("propose_form") or ProposeForm(
            prefix="propose", options=_proposal_options(visit)
        )
    if visit.can_answer_proposal(user):
        context["reject_form"] = forms.get("reject_form") or OptionalReasonForm(
            prefix="reject"
        )
    if visit.can_cancel(user):
        context["cancel_form"] = forms.get("cancel_form") or CancelForm(prefix="cancel")
    if visit.can_give_feedback(user):
        context["feedback_form"] = forms.get("feedback_form") or FeedbackForm(
            prefix="feedback"
        )
    context["can_confirm"] = visit.can_confirm(user)
    context["can_record_outcome"] = visit.can_record_outcome(user)
    return render(request, "visits/visit_detail.html", context, status=status)


@login_required
def visit_detail(request, pk):
    return _detail_page(request, _visit_for(request, pk))


def _visit_action(
    request,
    pk,
    *,
    party: str,
    service,
    done: str,
    form_class=None,
    prefix: str | None = None,
    form_kwargs=None,
    arguments=dict,
    invalid: str | None = None,
):
    """
    One action on a visit: a 404 unless the person is the `party` the service
    names ("owner", "tenant", or "user" for either), then the form, made with
    `form_kwargs(visit)` (an invalid one shows the visit page with its errors,
    or `invalid` as a message), the service with the form's `arguments`, and
    back to the visit saying `done` or why the rules refused.
    """
    visit = _visit_for(request, pk)
    user = request.user
    if (party == "owner" and not visit.is_owner(user)) or (
        party == "tenant" and not visit.is_tenant(user)
    ):
        raise Http404
    data = {}
    if form_class is not None:
        extra = (
            {"options": _proposal_options(visit)} if form_class is ProposeForm else {}
        )
        form = form_class(request.POST, prefix=prefix, **extra)
        if not form.is_valid():
            if invalid:
                messages.error(request, invalid)
                return redirect(visit)
            return _detail_page(request, visit, status=400, **{f"{prefix}_form": form})
        data = arguments(form.cleaned_data)
    try:
        service(visit=visit, **{party: user}, **data)
    except services.VisitError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect(visit)


def _proposal_options(visit: Visit) -> list:
    """The free slots an owner may propose instead of the requested one."""
    return [
        option
        for option in slots.free_slots(visit.listing)
        if option.starts_at != visit.slot.starts_at
    ]


def _action_view(**action):
    """A POST-only view of one `_visit_action`."""

    @login_required
    @require_POST
    def view(request, pk):
        return _visit_action(request, pk, **action)

    return view


visit_confirm = _action_view(
    party="owner",
    service=services.visit_confirm,
    done=gettext_lazy("Visit confirmed. The tenant now sees your phone number."),
)
visit_decline = _action_view(
    party="owner",
    service=services.visit_decline,
    form_class=DeclineForm,
    prefix="decline",
    done=gettext_lazy("Request declined. The tenant has been told why."),
)
visit_propose = _action_view(
    party="owner",
    service=services.visit_propose,
    form_class=ProposeForm,
    prefix="propose",
    form_kwargs=lambda visit: {"options": _proposal_options(visit)},
    arguments=lambda data: {"starts_at": data["slot"]},
    done=gettext_lazy("Proposal sent. The tenant will accept or decline it."),
)
visit_accept = _action_view(
    party="tenant",
    service=services.visit_accept_proposal,
    done=gettext_lazy("You accepted the new time. Your visit is confirmed."),
)
visit_reject = _action_view(
    party="tenant",
    service=services.visit_reject_proposal,
    form_class=OptionalReasonForm,
    prefix="reject",
    done=gettext_lazy("You declined the proposed time. The visit is off."),
)
visit_cancel = _action_view(
    party="user",
    service=services.visit_cancel,
    form_class=CancelForm,
    prefix="cancel",
    done=gettext_lazy("Visit cancelled. The other side has been told."),
)
visit_outcome = _action_view(
    party="owner",
    service=services.visit_record_outcome,
    form_class=OutcomeForm,
    invalid=gettext_lazy("Choose whether the visit happened."),
    done=gettext_lazy("Thank you. The visit is marked."),
)
visit_feedback = _action_view(
    party="tenant",
    service=services.visit_feedback_give,
    form_class=FeedbackForm,
    prefix="feedback",
    done=gettext_lazy("Thank you for your answers. They help keep brokers out."),
)


@login_required
def visit_ics(request, pk):
    visit = _visit_for(request, pk)
    response = HttpResponse(
        visit_calendar(visit, request=request),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="visit-{visit.pk}.ics"'
    return response


# --- Owner pages ----------------------------------------------------------------


@login_required
def visit_schedule(request):
    now = timezone.now()
    owned = Visit.objects.for_owner(request.user).with_related()
    upcoming = owned.active().upcoming(now).order_by("slot__starts_at")
    needs_outcome = owned.filter(
        status=Visit.Status.CONFIRMED, slot__starts_at__lte=now
    ).order_by("slot__starts_at")
    listings = services.annotate_visit_counts(
        Listing.objects.owned_by(request.user).order_by("title"), now=now
    )
    days = [
        (day, list(items)) for day, items in groupby(upcoming, lambda v: v.local_day)
    ]
    return render(
        request,
        "visits/visit_schedule.html",
        {"days": days, "needs_outcome": needs_outcome, "listings": listings},
    )


@login_required
def availability_edit(request, listing_pk):
    listing = get_object_or_404(Listing.objects.owned_by(request.user), pk=listing_pk)
    availability = slots.availability_for(listing)
    data = request.POST if request.method == "POST" else None
    form = AvailabilityForm(data, instance=availability)
    formsets = [
        WeeklyWindowFormSet(data, instance=listing, prefix="weekly"),
        DateWindowFormSet(data, instance=listing, prefix="dates"),
        BlockedDateFormSet(data, instance=listing, prefix="blocked"),
    ]
    if request.method == "POST":
        if form.is_valid() and all(formset.is_valid() for formset in formsets):
            services.availability_update(availability_form=form, formsets=formsets)
            messages.success(request, _("Visiting hours saved."))
            return redirect("visits:availability", listing_pk=listing.pk)
        status = 400
    else:
        status = 200
    weekly, dates, blocked = formsets
    return render(
        request,
        "visits/availability_form.html",
        {
            "listing": listing,
            "form": form,
            "weekly_formset": weekly,
            "date_formset": dates,
            "blocked_formset": blocked,
            "preview": group_by_day(slots.free_slots(listing, limit=12)),
        },
        status=status,
    )
