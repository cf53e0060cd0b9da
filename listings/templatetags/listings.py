from django import template
from django.core.cache import cache
from django.utils.translation import gettext as _

from listings import cache as listing_cache
from listings import cards, formatting
from listings.forms import field_html
from listings.models import Listing
from nobroker.bsdate import is_nepali, localise_digits

register = template.Library()


@register.filter
def npr(value) -> str:
    """Rupees the Nepali way: 150000 → 'Rs. 1,50,000'."""
    return formatting.npr(value)


@register.filter
def nepali_number(value) -> str:
    try:
        return formatting.nepali_grouping(int(value))
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
    if is_nepali():
        # Nepali writes the number alone: ३ तल्ला.
        ordinal = localise_digits(n)
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
        ordinal = f"{n}{suffix}"
    return _("%(ordinal)s floor") % {"ordinal": ordinal}


@register.simple_tag
def filter_field(field) -> str:
    """One search filter as includes/field.html writes it (listings.forms.field_html)."""
    return field_html(field)


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


@register.simple_tag(takes_context=True)
def result_cards(context, listings) -> str:
    """Every result card of `listings` as `<li>` items: `{% result_cards xs %}`.

    `shortlisted` (a set of listing ids) comes from the view; without it no
    heart is pressed.
    """
    hearts = cards.Hearts(
        context["request"], context.get("user"), context.get("shortlisted", ())
    )
    return cards.render_cards(listing_cache.card_bodies(listings), hearts)


@register.simple_tag(takes_context=True)
def shortlist_heart(context, listing) -> str:
    """The shortlist heart of one listing (see `listings.cards.Hearts`)."""
    hearts = cards.Hearts(
        context["request"], context.get("user"), context.get("shortlisted", ())
    )
    return hearts(listing)
