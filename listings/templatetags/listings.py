from urllib.parse import quote

from django import template
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from listings import cache as listing_cache
from listings.models import Listing

register = template.Library()


def nepali_grouping(number: int) -> str:
    """1500000 → '15,00,000': the last three digits, then groups of two."""
    digits = str(abs(int(number)))
    if len(digits) <= 3:
        grouped = digits
    else:
        head, tail = digits[:-3], digits[-3:]
        pairs = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        if head:
            pairs.insert(0, head)
        grouped = ",".join([*pairs, tail])
    return f"-{grouped}" if int(number) < 0 else grouped


@register.filter
def npr(value) -> str:
    """Rupees the Nepali way: 150000 → 'Rs. 1,50,000'."""
    try:
        return f"Rs. {nepali_grouping(int(value))}"
    except (TypeError, ValueError):
        return ""


@register.filter
def nepali_number(value) -> str:
    try:
        return nepali_grouping(int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def floor_label(value) -> str:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return ""
    if n == 0:
        return _("Ground floor")
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
    return _("%(n)s%(suffix)s floor") % {"n": n, "suffix": suffix}


@register.simple_tag
def photo_srcset(photo) -> str:
    return f"{photo.thumb.url} 400w, {photo.medium.url} 800w, {photo.large.url} 1600w"


@register.simple_tag
def newest_listings(count: int = 6) -> list:
    """The newest published listings for the home page, cached with the rest."""
    key = f"listings:newest:{listing_cache.current_version()}:{count}"
    listings = cache.get(key)
    if listings is None:
        listings = list(Listing.objects.published().for_result_cards()[:count])
        cache.set(key, listings, listing_cache.SEARCH_TIMEOUT)
    return listings


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None removes)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@register.simple_tag
def card_bodies(listings) -> list[tuple]:
    """Pairs of (listing, its cached card HTML): `{% card_bodies xs as cards %}`."""
    return listing_cache.card_bodies(listings)


@register.simple_tag(takes_context=True)
def shortlist_heart(context, listing) -> str:
    """The shortlist heart of one listing, pressed if the user shortlisted it.

    Written in Python because a search page has twenty of them, one per card.
    Anonymous visitors get a link to log in; an owner gets none on their own
    listing. `shortlisted` (a set of listing ids) comes from the view.
    """
    request = context["request"]
    user = context.get("user") or request.user
    if not user.is_authenticated:
        label = _("Log in to shortlist")
        return format_html(
            '<a class="heart" href="{}?next={}" title="{}"><span aria-hidden="true">♡</span>'
            '<span class="visually-hidden">{}</span></a>',
            reverse("accounts:login"),
            quote(request.get_full_path(), safe="/"),
            label,
            label,
        )
    if listing.owner_id == user.pk:
        return ""
    if listing.pk in context.get("shortlisted", ()):
        button = format_html(
            '<button type="submit" class="heart heart--on" aria-pressed="true" '
            'title="{}"><span aria-hidden="true">♥</span>'
            '<span class="visually-hidden">{}</span></button>',
            _("Remove from shortlist"),
            _("Remove %(title)s from shortlist") % {"title": listing.title},
        )
    else:
        button = format_html(
            '<button type="submit" class="heart" aria-pressed="false" title="{}">'
            '<span aria-hidden="true">♡</span>'
            '<span class="visually-hidden">{}</span></button>',
            _("Shortlist"),
            _("Shortlist %(title)s") % {"title": listing.title},
        )
    return format_html(
        '<form method="post" action="{}" class="shortlist-form">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="next" value="{}">{}</form>',
        reverse("listings:shortlist_toggle", args=[listing.pk]),
        get_token(request),
        request.get_full_path(),
        button,
    )
