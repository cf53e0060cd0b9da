import uuid
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from listings.models import Listing
from visits import services
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
    options = services.free_slots(listing)
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
        Visit.objects.active()
        .filter(tenant=request.user, listing=listing)
        .select_related("slot")
        .first()
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
            prefix="propose",
            options=[
                o
                for o in services.free_slots(visit.listing)
                if o.starts_at != visit.slot.starts_at
            ],
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


def _act(request, visit, action, success_message, **kwargs):
    try:
        action(visit=visit, **kwargs)
    except services.VisitError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success_message)
    return redirect(visit)


@login_required
@require_POST
def visit_confirm(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_owner(request.user):
        raise Http404
    return _act(
        request,
        visit,
        services.visit_confirm,
        _("Visit confirmed. The tenant now sees your phone number."),
        owner=request.user,
    )


@login_required
@require_POST
def visit_decline(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_owner(request.user):
        raise Http404
    form = DeclineForm(request.POST, prefix="decline")
    if not form.is_valid():
        return _detail_page(request, visit, status=400, decline_form=form)
    return _act(
        request,
        visit,
        services.visit_decline,
        _("Request declined. The tenant has been told why."),
        owner=request.user,
        reason=form.cleaned_data["reason"],
    )


@login_required
@require_POST
def visit_propose(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_owner(request.user):
        raise Http404
    options = [
        o
        for o in services.free_slots(visit.listing)
        if o.starts_at != visit.slot.starts_at
    ]
    form = ProposeForm(request.POST, prefix="propose", options=options)
    if not form.is_valid():
        return _detail_page(request, visit, status=400, propose_form=form)
    return _act(
        request,
        visit,
        services.visit_propose,
        _("Proposal sent. The tenant will accept or decline it."),
        owner=request.user,
        starts_at=form.cleaned_data["slot"],
    )


@login_required
@require_POST
def visit_accept(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_tenant(request.user):
        raise Http404
    return _act(
        request,
        visit,
        services.visit_accept_proposal,
        _("You accepted the new time. Your visit is confirmed."),
        tenant=request.user,
    )


@login_required
@require_POST
def visit_reject(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_tenant(request.user):
        raise Http404
    form = OptionalReasonForm(request.POST, prefix="reject")
    if not form.is_valid():
        return _detail_page(request, visit, status=400, reject_form=form)
    return _act(
        request,
        visit,
        services.visit_reject_proposal,
        _("You declined the proposed time. The visit is off."),
        tenant=request.user,
        reason=form.cleaned_data["reason"],
    )


@login_required
@require_POST
def visit_cancel(request, pk):
    visit = _visit_for(request, pk)
    form = CancelForm(request.POST, prefix="cancel")
    if not form.is_valid():
        return _detail_page(request, visit, status=400, cancel_form=form)
    return _act(
        request,
        visit,
        services.visit_cancel,
        _("Visit cancelled. The other side has been told."),
        user=request.user,
        reason=form.cleaned_data["reason"],
    )


@login_required
@require_POST
def visit_outcome(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_owner(request.user):
        raise Http404
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the visit happened."))
        return redirect(visit)
    return _act(
        request,
        visit,
        services.visit_record_outcome,
        _("Thank you. The visit is marked."),
        owner=request.user,
        outcome=form.cleaned_data["outcome"],
    )


@login_required
@require_POST
def visit_feedback(request, pk):
    visit = _visit_for(request, pk)
    if not visit.is_tenant(request.user):
        raise Http404
    form = FeedbackForm(request.POST, prefix="feedback")
    if not form.is_valid():
        return _detail_page(request, visit, status=400, feedback_form=form)
    return _act(
        request,
        visit,
        services.visit_feedback_give,
        _("Thank you for your answers. They help keep brokers out."),
        tenant=request.user,
        listing_accurate=form.cleaned_data["listing_accurate"],
        commission_asked=form.cleaned_data["commission_asked"],
        comment=form.cleaned_data["comment"],
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
    availability = services.availability_for(listing)
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
            "preview": group_by_day(services.free_slots(listing, limit=12)),
        },
        status=status,
    )
