from django import template

from nobroker import bsdate
from visits import slots
from visits.models import Visit

register = template.Library()


@register.filter
def visit_time(value):
    """A visit time the local way: 'Sat, 6 Dec · 10:30 AM' (Nepal time), with
    its BS date beside it."""
    if not value:
        return ""
    return bsdate.format_both(value, slots.VISIT_TIME_FORMAT, with_year=False)


@register.inclusion_tag("visits/includes/visit_panel.html")
def visit_panel(listing, user):
    """The "Book a visit" box on a listing page: next free slots or the current visit."""
    context = {"listing": listing, "user": user}
    if user.is_authenticated and listing.can_be_edited_by(user):
        context["is_owner"] = True
        return context
    if user.is_authenticated:
        context["active_visit"] = (
            Visit.objects.active_for(user, listing).select_related("slot").first()
        )
    if listing.status == listing.Status.PUBLISHED and not context.get("active_visit"):
        context["options"] = slots.next_free_slots(listing, limit=4)
    return context


@register.simple_tag
def status_badge_class(status):
    return {
        Visit.Status.CONFIRMED: "badge--success",
        Visit.Status.DONE: "badge--success",
        Visit.Status.PENDING: "badge--warning",
        Visit.Status.PROPOSED: "badge--warning",
        Visit.Status.DECLINED: "badge--danger",
        Visit.Status.CANCELLED: "badge--danger",
        Visit.Status.NO_SHOW: "badge--danger",
    }.get(status, "")
