"""
Result cards: the search page, the home page, similar listings and the
shortlist all show listings as cards.

A search page has twenty of them, so they are written in Python rather than
with a template include per card (about ten times cheaper), and the part of a
card that is the same for everybody is rendered once per listing and kept in
the cache (`listings.cache.card_bodies`). Only the shortlist heart, which
depends on who is looking, is written per request.
"""

import functools
from dataclasses import dataclass
from urllib.parse import quote

from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from listings.formatting import npr
from nobroker.numbers import shown

PHOTO_SIZES = "(min-width: 64rem) 33vw, (min-width: 40rem) 50vw, 100vw"


@dataclass(frozen=True, slots=True)
class ListingRef:
    """A listing as a page of search results carries it: what the page uses
    around the shared card body (link, heart, map, counting), without the
    model. A search keeps these in the cache, cheap to store and read; the
    whole listing is read only to render a card not already cached
    (`listings.cache.card_bodies`)."""

    FIELDS = ("pk", "slug", "title", "owner_id", "locality_id")

    pk: int
    slug: str
    title: str
    owner_id: int
    locality_id: int

    @property
    def id(self) -> int:
        return self.pk

    def get_absolute_url(self) -> str:
        return reverse("listings:detail", kwargs={"pk": self.pk, "slug": self.slug})


def card_body(listing) -> SafeString:
    """The shared part of one card: a link with the cover photo and key facts."""
    cover = listing.cover
    if cover:
        photo = format_html(
            '<img src="{}" srcset="{} 400w, {} 800w, {} 1600w" sizes="{}" '
            'width="800" height="600" loading="lazy" decoding="async" alt="{}">',
            cover.medium.url,
            cover.thumb.url,
            cover.medium.url,
            cover.large.url,
            PHOTO_SIZES,
            cover.alt_text or listing.title,
        )
    else:
        photo = format_html(
            '<span class="listing-card__nophoto">{}</span>', _("No photos yet")
        )
    negotiable = (
        format_html(' <span class="badge">{}</span>', _("Negotiable"))
        if listing.negotiable
        else ""
    )
    meta = [listing.get_property_type_display()]
    if listing.property_type != "shop":
        meta.append(
            ngettext("%(n)s bedroom", "%(n)s bedrooms", listing.bedrooms)
            % {"n": shown(listing.bedrooms)}
        )
    meta.append(listing.locality.name)
    bikes = (
        ngettext("%(n)s bike", "%(n)s bikes", listing.bike_parking)
        % {"n": shown(listing.bike_parking)}
        if listing.bike_parking
        else _("No bike parking")
    )
    cars = (
        ngettext("%(n)s car", "%(n)s cars", listing.car_parking)
        % {"n": shown(listing.car_parking)}
        if listing.car_parking
        else _("No car parking")
    )
    verified = (
        format_html(
            '<p class="badge badge--success listing-card__verified">✓ {}</p>',
            _("Verified owner"),
        )
        if listing.owner.email_verified
        else ""
    )
    return format_html(
        '<a class="listing-card__link" href="{url}">'
        '<div class="listing-card__photo">{photo}</div>'
        '<div class="listing-card__body">'
        '<p class="listing-card__rent"><strong>{rent}</strong> '
        '<span class="muted">/ {month}</span>{negotiable}</p>'
        '<h3 class="listing-card__title">{title}</h3>'
        '<p class="listing-card__meta">{meta}</p>'
        '<ul class="facts-inline">'
        '<li><span aria-hidden="true">💧</span> {water}</li>'
        '<li><span aria-hidden="true">🏍</span> {bikes}</li>'
        '<li><span aria-hidden="true">🚗</span> {cars}</li>'
        "</ul>{hint}{verified}</div></a>",
        url=listing.get_absolute_url(),
        photo=photo,
        rent=npr(listing.rent),
        month=_("month"),
        negotiable=negotiable,
        title=listing.title,
        meta=" · ".join(str(conditional_escape(part)) for part in meta),
        water=ngettext("Water %(n)s hr/day", "Water %(n)s hrs/day", listing.water_hours)
        % {"n": shown(listing.water_hours)},
        bikes=bikes,
        cars=cars,
        verified=verified,
        hint=_rent_hint(listing),
    )


def _rent_hint(listing) -> str:
    """The rent index's word on the card's rent ("Typical rent for this
    locality"), from figures this process keeps in memory."""
    from rentindex.services import rent_hint, rent_position

    text = rent_hint(listing)
    if not text:
        return ""
    return format_html(
        '<p class="rent-hint rent-hint--{}">{}</p>', rent_position(listing), text
    )


@functools.lru_cache(maxsize=512)
def _login_heart(path: str, language: str | None) -> SafeString:
    """The same link on every card of a page, for visitors not logged in:
    written once per page and language."""
    label = _("Log in to shortlist")
    return format_html(
        '<a class="heart" href="{}?next={}" title="{}">'
        '<span aria-hidden="true">♡</span>'
        '<span class="visually-hidden">{}</span></a>',
        reverse("accounts:login"),
        quote(path, safe="/"),
        label,
        label,
    )


class Hearts:
    """Writes the shortlist heart of each card for one request.

    Anonymous visitors get a link to log in; an owner gets none on their own
    listing; others a small form, pressed if the listing is in `shortlisted`
    (a set of listing ids).
    """

    def __init__(self, request, user=None, shortlisted=()):
        self.request = request
        self.user = user or request.user
        self.shortlisted = shortlisted
        self.path = request.get_full_path()
        if self.user.is_authenticated:
            self.token = get_token(request)
            self.anonymous = None
        else:
            self.anonymous = _login_heart(self.path, get_language())

    def __call__(self, listing) -> SafeString:
        if self.anonymous is not None:
            return self.anonymous
        if listing.owner_id == self.user.pk:
            return SafeString("")
        if listing.pk in self.shortlisted:
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
            self.token,
            self.path,
            button,
        )


def render_cards(bodies, hearts: Hearts) -> SafeString:
    """The `<li>` of every card, from (listing, shared body) pairs."""
    # Both parts are already HTML (conditional_escape keeps a SafeString as it is).
    return SafeString(
        "".join(
            f'<li class="listing-card">{conditional_escape(body)}'
            f"{conditional_escape(hearts(listing))}</li>"
            for listing, body in bodies
        )
    )
