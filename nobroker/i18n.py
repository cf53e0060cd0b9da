"""
Languages: the switch, the person's remembered choice, and Nepali input.

URLs carry no language prefix, so a shared link opens the same page in the
reader's own language. The choice is kept in Django's language cookie for
everybody and, for a logged-in person, on their account, which wins over the
cookie (the choice follows them to another phone).
"""

import re

from django.conf import settings
from django.http import HttpResponseNotAllowed, QueryDict
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from nobroker import bsdate

# A value made of digits and the separators of numbers, dates and times only:
# such a value has its Nepali digits read as ASCII. Free text is left alone.
_NUMERIC_RE = re.compile(r"^[\d\s,.:/\-+]+$")
# Rupees written with Nepali (1,50,000) or international (150,000) grouping.
_GROUPED_RE = re.compile(
    r"^\s*(?:rs\.?|npr|रु\.?)?\s*(\d{1,3}(?:,\d{2})*,\d{3}|\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(?:/-)?\s*$",
    re.IGNORECASE,
)


def normalise_value(value: str) -> str:
    """'१,५०,०००' → '150000', 'Rs. 8,500' → '8500', '२०८३-०८-१५' → '2026-12-01'."""
    if not value or len(value) > 40:
        return value
    ascii_value = bsdate.ascii_digits(value)
    bs = bsdate.parse_bs(ascii_value)
    if bs is not None:
        return bs.isoformat()
    grouped = _GROUPED_RE.match(ascii_value)
    if grouped and (
        "," in ascii_value or ascii_value != value or not value[0].isdigit()
    ):
        return grouped[1].replace(",", "") + (grouped[2] or "")
    if ascii_value != value and _NUMERIC_RE.match(ascii_value):
        return ascii_value
    return value


def _normalised(query: QueryDict) -> QueryDict | None:
    """A copy of `query` with its values normalised; None if none changed
    (the usual case, which then copies nothing)."""
    changes = {}
    for key, values in query.lists():
        new = [normalise_value(v) for v in values]
        if new != values:
            changes[key] = new
    if not changes:
        return None
    copy = query.copy()
    for key, new in changes.items():
        copy.setlist(key, new)
    copy._mutable = False
    return copy


class NepaliInputMiddleware:
    """Every number and date field accepts Nepali digits, grouped rupees and BS
    dates: form values (and search parameters) are read as ASCII numbers and
    AD dates before any form sees them. Multipart bodies (photo uploads) are
    not parsed here, so the views keep control of their upload handlers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.GET:
            found = _normalised(request.GET)
            if found is not None:
                request.GET = found
        if request.method == "POST" and request.content_type == (
            "application/x-www-form-urlencoded"
        ):
            found = _normalised(request.POST)
            if found is not None:
                request.POST = found
        return self.get_response(request)


class UserLanguageMiddleware:
    """A logged-in person's saved language and calendar choice, after
    authentication (LocaleMiddleware has already read the cookie)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        bs_only = False
        if user is not None and user.is_authenticated:
            bs_only = user.calendar_bs_only
            if user.language and user.language != request.LANGUAGE_CODE:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        token = bsdate.bs_only.set(bs_only)
        try:
            return self.get_response(request)
        finally:
            bsdate.bs_only.reset(token)


# Without a CSRF token: the switch is on every page, and a token there would
# set a CSRF cookie for every anonymous visitor and make each page's HTML
# unique. The worst a forged post can do is change someone's language.
@csrf_exempt
def language_set(request):
    """The language switch (a plain form): the cookie, and the account too."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    response = set_language(request)
    code = request.POST.get("language", "")
    if code in dict(settings.LANGUAGES) and request.user.is_authenticated:
        request.user.language = code
        request.user.save(update_fields=["language"])
    return response
