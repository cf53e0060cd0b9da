"""
Filters every template has (settings: TEMPLATES builtins): dates in Bikram
Sambat beside AD, and Nepali digits on Nepali pages.

    {{ listing.available_from|ad_bs }}          Mon, 1 Dec 2026 (15 Mangsir 2083 BS)
    {{ message.created_at|ad_bs:"D, j M · g:i A" }}
    {{ listing.available_from|bs }}             15 Mangsir 2083
    {{ count|digits }}                          ४२ on a Nepali page
    {{ views|intcomma }}                        १२,३४,५६७ on a Nepali page

`intcomma` replaces django.contrib.humanize's (which is not installed): the
same text in English, Nepali digits and grouping in Nepali (nobroker/numbers.py).
Both give a number back for a whole number, so they also serve as the count of
`{% blocktranslate count n=result.total|intcomma %}`.
"""

import json

from django import template

from nobroker import bsdate, numbers

register = template.Library()


@register.filter
def bs(value) -> str:
    return bsdate.format_bs(value)


@register.filter
def ad_bs(value, fmt: str = "D, j M Y") -> str:
    if not value:
        return ""
    return bsdate.format_both(value, fmt, with_year="Y" in fmt)


@register.filter
def digits(value):
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return numbers.shown(value)
    return bsdate.localise_digits(value)


@register.filter(is_safe=True)
def intcomma(value):
    return numbers.shown(value, grouped=True)


@register.filter
def to_json(value) -> str:
    """JSON for a data attribute (the template escapes it): no inline script."""
    return json.dumps(value, ensure_ascii=False)
