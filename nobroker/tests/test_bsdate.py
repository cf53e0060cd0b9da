"""Bikram Sambat conversion, formatting and input, against the library's table."""

import csv
import datetime as dt
from pathlib import Path

import nepali_datetime
import pytest
from django.template import Context, Template
from django.utils import translation

from nobroker import bsdate
from nobroker.i18n import normalise_value

TABLE = Path(nepali_datetime.__file__).parent / "data" / "calendar_bs.csv"


def _published_month_lengths() -> dict[int, list[int]]:
    with TABLE.open() as f:
        rows = csv.reader(f)
        next(rows)
        return {int(r[0]): [int(x) for x in r[1:13]] for r in rows}


@pytest.mark.parametrize("year", [2070, 2075, 2080, 2081, 2082, 2083, 2085, 2090])
def test_month_boundaries_follow_the_published_table(year):
    lengths = _published_month_lengths()[year]
    assert bsdate.month_lengths(year) == lengths
    for month, days in enumerate(lengths, start=1):
        last = bsdate.from_bs(year, month, days)
        first_next = (
            bsdate.from_bs(year, month + 1, 1)
            if month < 12
            else bsdate.from_bs(year + 1, 1, 1)
        )
        assert first_next - last == dt.timedelta(days=1)
        with pytest.raises(ValueError):
            bsdate.from_bs(year, month, days + 1)


@pytest.mark.parametrize(
    ("bs", "ad"),
    [
        # Nepali new year's days as the government calendar gives them.
        ((2080, 1, 1), dt.date(2023, 4, 14)),
        ((2081, 1, 1), dt.date(2024, 4, 13)),
        ((2082, 1, 1), dt.date(2025, 4, 14)),
    ],
)
def test_new_years_days(bs, ad):
    assert bsdate.from_bs(*bs) == ad
    back = bsdate.to_bs(ad)
    assert (back.year, back.month, back.day) == bs


def test_format_in_english_and_nepali():
    day = dt.date(2026, 12, 1)
    assert bsdate.format_bs(day) == "15 Mangsir 2083"
    with translation.override("ne"):
        assert bsdate.format_bs(day) == "१५ मंसिर २०८३"


def test_ad_bs_filter_shows_both_or_bs_only():
    template = Template('{{ day|ad_bs:"D, j M Y" }}')
    day = dt.date(2026, 12, 1)
    assert (
        template.render(Context({"day": day})) == "Tue, 1 Dec 2026 (15 Mangsir 2083 BS)"
    )
    token = bsdate.bs_only.set(True)
    try:
        assert template.render(Context({"day": day})) == "15 Mangsir 2083"
    finally:
        bsdate.bs_only.reset(token)


def test_bs_input_in_either_digits_becomes_the_ad_date():
    assert bsdate.parse_bs("2083-08-15") == dt.date(2026, 12, 1)
    assert bsdate.parse_bs("२०८३/०८/१५") == dt.date(2026, 12, 1)
    assert bsdate.parse_bs("2083-08-15 BS") == dt.date(2026, 12, 1)
    # An AD date is not mistaken for BS; a BS date that does not exist is refused.
    assert bsdate.parse_bs("2026-12-01") is None
    assert bsdate.parse_bs("2083-08-32") is None
    assert normalise_value("२०८३-०८-१५") == "2026-12-01"
    assert normalise_value("2026-12-01") == "2026-12-01"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("१,५०,०००", "150000"),
        ("Rs. 1,50,000", "150000"),
        ("रु. ८,५००", "8500"),
        ("150,000", "150000"),
        ("२४", "24"),
        ("९८४१२३४५६७", "9841234567"),
        ("25000", "25000"),
        ("Sunny flat, २ कोठा", "Sunny flat, २ कोठा"),
    ],
)
def test_nepali_digits_and_grouping_are_read_as_numbers(typed, read):
    assert normalise_value(typed) == read


def test_bs_table_in_the_picker_script_matches_the_library():
    """static/js/bs-picker.js carries the month lengths to work offline."""
    import json
    import re

    from django.conf import settings

    script = (Path(settings.BASE_DIR) / "static/js/bs-picker.js").read_text()
    match = re.search(r"/\* BS-TABLE \*/(.*?)/\* END-BS-TABLE \*/", script, re.S)
    table = json.loads(match[1])
    published = _published_month_lengths()
    assert table["first"] == [2070, 1, 1, *bsdate.from_bs(2070, 1, 1).timetuple()[:3]]
    for offset, lengths in enumerate(table["months"]):
        assert lengths == published[2070 + offset]
