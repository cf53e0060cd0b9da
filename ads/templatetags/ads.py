"""
Ad slots in pages: `{% ad_slot "home" %}`, `{% ad_slot "listing" listing %}`,
`{% ad_slot "inbox" %}`, and `{% search_result_cards listings %}` for the
search results with their boosted listings and ad cards. Each is chosen per
request, from memory and the store: no SQL.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ads import serving
from ads.placements import SEARCH_AD_EVERY
from ads.rendering import assets
from listings import cache as listing_cache
from listings import cards

register = template.Library()


def _with_assets(request, html: str) -> SafeString:
    """The stylesheet and script go with the first ad of a page only."""
    if not html:
        return SafeString("")
    if getattr(request, "_ads_assets", False):
        return SafeString(html)
    request._ads_assets = True
    return SafeString(assets() + html)


def _ensure_ticker():
    from ads.ticker import ensure_local_ticker

    ensure_local_ticker()


@register.simple_tag(takes_context=True)
def ad_slot(context, placement: str, listing=None) -> SafeString:
    request = context.get("request")
    if request is None:
        return SafeString("")
    _ensure_ticker()
    slot = (
        serving.listing_slot(placement, listing)
        if listing is not None
        else serving.Slot(placement)
    )
    return _with_assets(request, "".join(serving.serve(request, slot)))


def _search_slot(search) -> serving.Slot:
    data = search.form.cleaned_data if search.form.is_bound else {}
    low, high = data.get("rent_min"), data.get("rent_max")
    return serving.Slot(
        "search",
        localities=frozenset(search.locality_ids),
        types=frozenset(search.types),
        rent=(low, high) if low is not None or high is not None else None,
    )


@register.simple_tag(takes_context=True)
def search_result_cards(context, listings) -> SafeString:
    """
    The result cards of a search page: up to two boosted listings the search
    really finds first (page 1, labelled), then the results with one ad card
    after every eight (never first).
    """
    request = context["request"]
    search = context.get("search")
    result = context.get("result") or {}
    hearts = cards.Hearts(request, context.get("user"), context.get("shortlisted", ()))
    listings = list(listings)
    boosted = []
    ads = []
    if search is not None:
        _ensure_ticker()
        if result.get("page", 1) == 1:
            boosted = serving.boosts_for(search)
        boosted_ids = {b.pk for b in boosted}
        listings = [item for item in listings if item.pk not in boosted_ids]
        wanted = len(listings) // SEARCH_AD_EVERY
        if wanted:
            ads = serving.serve(request, _search_slot(search), count=wanted)
    parts = [
        format_html(
            '<li class="listing-card listing-card--boosted">'
            '<p class="boost-label"><span class="ad-label">{}</span> {}</p>{}{}</li>',
            _("Sponsored"),
            _("Boosted by the owner"),
            body,
            hearts(listing),
        )
        for listing, body in listing_cache.card_bodies(boosted)
    ]
    chunks = listing_cache.card_chunks(listings, hearts, SEARCH_AD_EVERY)
    for n, chunk in enumerate(chunks):
        parts.append(chunk)
        if n < len(ads):
            parts.append(ads[n])
    html = "".join(parts)
    return _with_assets(request, html) if ads or boosted else SafeString(html)
