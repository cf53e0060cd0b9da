"""
The HTML of an ad in each placement, written in Python like the result cards.

Every ad says "Sponsored" beside it and is drawn in its own muted frame, never
as a listing card. The same functions draw the advertiser's previews (with no
tokens: the preview's link goes nowhere and nothing is counted).
"""

from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
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


def render_ad(
    placement: str,
    creative: dict,
    *,
    view_token: str | None = None,
    click_token: str | None = None,
) -> SafeString:
    """One ad in `placement` (`creative` as kept in the serving index)."""
    href = _href(click_token)
    attrs = _attrs(view_token)
    if placement == "home":
        return format_html(
            '<aside class="ad-banner"{attrs} aria-label="{aria}">{label}'
            '<a class="ad-banner__link" href="{href}" rel="sponsored noopener">'
            '<picture><source media="(min-width: 40rem)" srcset="{wide}">{img}</picture>'
            '<span class="ad-banner__text"><strong class="ad-headline">{headline}</strong>'
            " <span>{text}</span> "
            '<span class="ad-domain">{domain}</span></span></a></aside>',
            attrs=attrs,
            aria=_("Sponsored"),
            label=_label(),
            href=href,
            wide=creative["images"].get("banner", ""),
            img=_img(creative, "banner_phone", "ad-banner__img", lazy=False),
            headline=creative["headline"],
            text=creative["text"],
            domain=creative["domain"],
        )
    if placement == "search":
        return format_html(
            '<li class="ad-card"{attrs}>{label}'
            '<a class="ad-card__link" href="{href}" rel="sponsored noopener">'
            "{img}"
            '<span class="ad-card__body"><strong class="ad-headline">{headline}</strong>'
            '<span class="ad-text">{text}</span>'
            '<span class="ad-domain">{domain}</span></span></a></li>',
            attrs=attrs,
            label=_label(),
            href=href,
            img=_img(creative, "card", "ad-card__img"),
            headline=creative["headline"],
            text=creative["text"],
            domain=creative["domain"],
        )
    if placement == "listing":
        return format_html(
            '<aside class="ad-box"{attrs} aria-label="{aria}">{label}'
            '<a class="ad-box__link" href="{href}" rel="sponsored noopener">{img}'
            '<strong class="ad-headline">{headline}</strong>'
            '<span class="ad-text">{text}</span>'
            '<span class="ad-domain">{domain}</span></a></aside>',
            attrs=attrs,
            aria=_("Sponsored"),
            label=_label(),
            href=href,
            img=_img(creative, "box", "ad-box__img"),
            headline=creative["headline"],
            text=creative["text"],
            domain=creative["domain"],
        )
    return format_html(
        '<aside class="ad-line"{attrs} aria-label="{aria}">'
        '<a class="ad-line__link" href="{href}" rel="sponsored noopener">{img}'
        '<span class="ad-line__text">{label}<strong class="ad-headline">{headline}</strong>'
        ' <span class="ad-text">{text}</span> '
        '<span class="ad-domain">{domain}</span></span></a></aside>',
        attrs=attrs,
        aria=_("Sponsored"),
        label=_label(),
        href=href,
        img=_img(creative, "thumb", "ad-line__img"),
        headline=creative["headline"],
        text=creative["text"],
        domain=creative["domain"],
    )


def assets() -> SafeString:
    """The ads' stylesheet and beacon script, written once per page."""
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
