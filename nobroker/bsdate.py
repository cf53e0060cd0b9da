"""
Bikram Sambat dates and Nepali digits.

The conversion is the `nepali_datetime` package's (its month-length table is
the published calendar); this module only formats and parses. Pages show a
date in BS beside AD, or in BS only for a person who chose that in their
profile (`calendar_bs_only`, read through `bs_only`, set per request by
`nobroker.i18n.UserLanguageMiddleware`).
"""

import contextvars
import datetime as dt
import re

import nepali_datetime
from django.utils import dateformat, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

NEPALI_DIGITS = "०१२३४५६७८९"
_TO_NEPALI = str.maketrans("0123456789", NEPALI_DIGITS)
_TO_ASCII = str.maketrans(NEPALI_DIGITS, "0123456789")

MONTHS_EN = (
    "Baisakh", "Jestha", "Asar", "Shrawan", "Bhadra", "Asoj",
    "Kartik", "Mangsir", "Poush", "Magh", "Falgun", "Chaitra",
)  # fmt: skip
MONTHS_NE = (
    "वैशाख", "जेठ", "असार", "साउन", "भदौ", "असोज",
    "कात्तिक", "मंसिर", "पुस", "माघ", "फागुन", "चैत",
)  # fmt: skip
MIN_YEAR, MAX_YEAR = nepali_datetime.MINYEAR, nepali_datetime.MAXYEAR

# Set per request: the person wants BS dates without the AD date beside them.
bs_only: contextvars.ContextVar[bool] = contextvars.ContextVar("bs_only", default=False)


def is_nepali() -> bool:
    return (get_language() or "").startswith("ne")


def nepali_digits(text) -> str:
    return str(text).translate(_TO_NEPALI)


def ascii_digits(text: str) -> str:
    return text.translate(_TO_ASCII)


def localise_digits(text) -> str:
    """Nepali digits on Nepali pages, the text unchanged elsewhere."""
    return nepali_digits(text) if is_nepali() else str(text)


def _as_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def to_bs(value: dt.date) -> nepali_datetime.date:
    return nepali_datetime.date.from_datetime_date(value)


def from_bs(year: int, month: int, day: int) -> dt.date:
    """The AD date of a BS date; ValueError when the BS date does not exist."""
    return nepali_datetime.date(year, month, day).to_datetime_date()


def month_lengths(year: int) -> list[int]:
    """Days in each of the twelve months of a BS year, from the library's table."""
    return [nepali_datetime._days_in_month(year, m) for m in range(1, 13)]


def format_bs(value, *, with_year: bool = True) -> str:
    """'15 Mangsir 2083' in English, '१५ मंसिर २०८३' in Nepali; '' for no date."""
    day = _as_date(value)
    if day is None:
        return ""
    try:
        bs = to_bs(day)
    except (ValueError, OverflowError):
        return ""
    months = MONTHS_NE if is_nepali() else MONTHS_EN
    text = f"{bs.day} {months[bs.month - 1]}"
    if with_year:
        text += f" {bs.year}"
    return localise_digits(text)


def format_ad(value, fmt: str) -> str:
    """Django's date format in the current language, with its digits."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return localise_digits(dateformat.format(value, fmt))


def format_both(value, fmt: str = "D, j M Y", *, with_year: bool = True) -> str:
    """The AD date with its BS date beside it, or BS only when the person chose
    (with the time of day when the value has one)."""
    bs = format_bs(value, with_year=with_year)
    if not bs:
        return ""
    if bs_only.get():
        if isinstance(value, dt.datetime) and "A" in fmt:
            return f"{bs} · {format_ad(value, 'g:i A')}"
        return bs
    return _("%(ad)s (%(bs)s BS)") % {"ad": format_ad(value, fmt), "bs": bs}


# A BS date typed or picked: 2083-08-15, 2083/8/15, १५ मंसिर २०८३ is not
# accepted (the picker writes the numeric form). Years from 2070 on are BS:
# nobody moves into a flat in AD 2070.
BS_DATE_RE = re.compile(
    r"^\s*(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\s*(?:BS|बि\.?\s*सं\.?)?\s*$",
    re.IGNORECASE,
)
BS_FIRST_YEAR_ON_INPUT = 2070


def parse_bs(text: str) -> dt.date | None:
    """The AD date of a BS date written as numbers (any digits), or None."""
    match = BS_DATE_RE.match(ascii_digits(text or ""))
    if not match:
        return None
    year, month, day = (int(match[k]) for k in "ymd")
    explicit = bool(re.search(r"BS|बि", text, re.IGNORECASE))
    if not explicit and year < BS_FIRST_YEAR_ON_INPUT:
        return None
    try:
        return from_bs(year, month, day)
    except (ValueError, OverflowError):
        return None
