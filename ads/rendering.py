"""
The HTML of an ad in each placement, written in Python like the result cards.

Every ad says "Sponsored" beside it and is drawn in its own muted frame, never
as a listing card. The same functions draw the advertiser's previews (with no
tokens: the preview's link goes nowhere and nothing is counted).
"""

import functools
import secrets

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ads.placements import IMAGE_SIZES


def _label() -> SafeString:
    return format_html('<p class="ad-label">{}</p>', _("Sponsored"))


def _img(creative: dict, size: str, css: str, lazy: bool = True) -> SafeString:
    url = creative["images"].get(size)
    if not url:
        return SafeString("")
    width, height = IMAGE_SIZES[size]
    return format_html(
        '<img class="{}" src="{}" width="{}" height="{}"{} decoding="async" alt="{}">',
        css,
        url,
        width,
        height,
        SafeString(' loading="lazy"') if lazy else "",
        creative["alt"],
    )


def _href(click_token: str | None) -> str:
    return reverse("ads:click", args=[click_token]) if click_token else "#preview"


def _attrs(view_token: str | None) -> SafeString:
    if not view_token:
        return SafeString(' data-ad-preview=""')
    return format_html(
        ' data-ad-view="{}" data-ad-beacon="{}"', view_token, reverse("ads:seen")
    )


# Per placement: the element, its class (also the prefix of its parts' classes),
# the picture's size, and whether "Sponsored" sits inside the text (the inbox's
# single line) or above the ad.
SHAPES = {
    "home": ("aside", "ad-banner", "banner_phone", False),
    "search": ("li", "ad-card", "card", False),
    "listing": ("aside", "ad-box", "box", False),
    "inbox": ("aside", "ad-line", "thumb", True),
}


def render_ad(
    placement: str,
    creative: dict,
    *,
    view_token: str | None = None,
    click_token: str | None = None,
) -> SafeString:
    """One ad in `placement` (`creative` as kept in the serving index)."""
    tag, css, size, label_inside = SHAPES[placement]
    picture = _img(creative, size, f"{css}__img", lazy=placement != "home")
    if placement == "home" and picture:
        # The wide banner on wider screens, the taller one on phones.
        picture = format_html(
            '<picture><source media="(min-width: 40rem)" srcset="{}">{}</picture>',
            creative["images"].get("banner", ""),
            picture,
        )
    label = _label()
    return format_html(
        '<{tag} class="{css}"{attrs}{aria}>{outer}'
        '<a class="{css}__link" href="{href}" rel="sponsored noopener">{picture}'
        '<span class="{css}__body">{inner}<strong class="ad-headline">{headline}</strong>'
        ' <span class="ad-text">{text}</span> '
        '<span class="ad-domain">{domain}</span></span></a></{tag}>',
        tag=SafeString(tag),
        css=css,
        attrs=_attrs(view_token),
        aria=format_html(' aria-label="{}"', _("Sponsored")) if tag == "aside" else "",
        outer="" if label_inside else label,
        inner=label if label_inside else "",
        href=_href(click_token),
        picture=picture,
        headline=creative["headline"],
        text=creative["text"],
        domain=creative["domain"],
    )


# Stand-ins for a rendering's tokens in an ad's prepared HTML: random for each
# process, so no creative's text can contain them. A token is URL-safe base64
# and colons, which neither the link nor an attribute escapes, so putting it
# in place of its stand-in gives exactly the HTML `render_ad` would.
_VIEW_MARK = f"view{secrets.token_hex(12)}"
_CLICK_MARK = f"click{secrets.token_hex(12)}"


def ad_template(placement: str, creative: dict) -> str:
    """
    The HTML of this creative in `placement` with stand-ins for its tokens,
    made once per language and kept in the creative's entry of this process's
    copy of the index (replaced, with its entries, when a campaign changes).
    """
    prepared = creative.get("_html")
    if prepared is None:
        prepared = creative["_html"] = {}
    key = (placement, get_language())
    html = prepared.get(key)
    if html is None:
        html = prepared[key] = str(
            render_ad(
                placement, creative, view_token=_VIEW_MARK, click_token=_CLICK_MARK
            )
        )
    return html


def fill_template(html: str, *, view_token: str, click_token: str) -> SafeString:
    return SafeString(
        html.replace(_VIEW_MARK, view_token).replace(_CLICK_MARK, click_token)
    )


def assets() -> SafeString:
    """The ads' stylesheet and beacon script, written once per page."""
    return _assets(settings.STATIC_URL)


@functools.lru_cache(maxsize=8)
def _assets(static_url: str) -> SafeString:
    # The same two hashed file names for as long as the process runs.
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("css/ads.css"),
        static("js/ads.js"),
    )


def creative_entry(creative) -> dict:
    """A creative as the index keeps it (and as the previews draw it)."""
    return {
        "id": creative.pk,
        "headline": creative.headline,
        "text": creative.text,
        "domain": creative.display_domain,
        "alt": creative.alt_text,
        "url": creative.target_url,
        "images": creative.image_urls(),
    }
