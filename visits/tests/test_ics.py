"""The .ics file of a visit: text escaped and lines folded per RFC 5545."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from listings.models import Listing
from visits import services
from visits.ics import _escape, _fold, visit_calendar
from visits.models import Visit
from visits.tests.conftest import nepal
from visits.tests.factories import ListingFactory, open_every_day

pytestmark = pytest.mark.django_db

SAT_10AM = nepal(2026, 12, 5, 10, 0)
HOSTILE = (
    "Ward 3\r\nATTENDEE:mailto:evil@example.com\rBEGIN:VALARM\nX;Y,Z\\W"
    "\x07\x1b[31m\x7f\t\u2028END:VEVENT"
)
# 68 characters, 178 octets: a title (at most 120 characters) this long folds twice.
DEVANAGARI = "झम्सिखेलको घाम लाग्ने दुई कोठा, भान्सा र बार्दली; पानी बिहान बेलुका "


def unfold(body: str) -> list[str]:
    return body.replace("\r\n ", "").split("\r\n")


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


@pytest.fixture
def hostile_visit(listing, tenant, frozen_now):
    visit = services.visit_request(tenant=tenant, listing=listing, starts_at=SAT_10AM)
    Listing.objects.filter(pk=listing.pk).update(
        title=f"Flat; big, bright {DEVANAGARI}",
        street=HOSTILE,
        landmark="Behind the \\ temple,\r\nnear;the chowk",
    )
    User.objects.filter(pk=tenant.pk).update(full_name="Rita\rATTENDEE:x Thapa")
    return Visit.objects.with_related().get(pk=visit.pk)


def test_control_characters_cannot_start_a_property_of_their_own(hostile_visit):
    body = visit_calendar(hostile_visit)
    assert "\r" not in body.replace("\r\n", "")
    assert "\n" not in body.replace("\r\n", "")
    lines = unfold(body)
    names = [re.match(r"[A-Z-]+", line).group(0) for line in lines if line]
    assert names == [
        "BEGIN",
        "VERSION",
        "PRODID",
        "CALSCALE",
        "METHOD",
        "BEGIN",
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "URL",
        "STATUS",
        "END",
        "END",
    ]
    assert not any(
        0 < ord(char) < 32 and char not in "\r\n" or ord(char) == 127 for char in body
    )


def test_text_round_trips_through_the_escapes(hostile_visit):
    lines = {
        line.split(":", 1)[0]: line.split(":", 1)[1]
        for line in unfold(visit_calendar(hostile_visit))
        if line
    }
    location = unescape(lines["LOCATION"])
    assert location.startswith(
        "Ward 3\nATTENDEE:mailto:evil@example.com\nBEGIN:VALARM\nX;Y,Z\\W"
    )
    assert "\n\nEND:VEVENT" in location or "\nEND:VEVENT" in location
    assert "Behind the \\ temple,\nnear;the chowk" in location
    assert unescape(lines["SUMMARY"]) == f"House visit: Flat; big, bright {DEVANAGARI}"
    assert "Rita\nATTENDEE:x" in unescape(lines["DESCRIPTION"])
    # Every separator in a value is escaped: none is left bare.
    for name in ("SUMMARY", "LOCATION", "DESCRIPTION"):
        assert not re.search(r"(?<!\\)[;,]", lines[name].replace("\\\\", ""))


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a,b;c\\d", "a\\,b\\;c\\\\d"),
        ("one\r\ntwo\nthree\rfour", "one\\ntwo\\nthree\\nfour"),
        ("tab\there", "tab here"),
        ("bell\x07esc\x1bnul\x00del\x7f", "bellescnuldel"),
        ("line\u2028sep", "line\\nsep"),
    ],
)
def test_escape(raw, escaped):
    assert _escape(raw) == escaped


def test_long_devanagari_lines_fold_at_75_octets_without_cutting_a_character():
    line = "DESCRIPTION:" + _escape(DEVANAGARI * 3)
    folded = _fold(line)
    pieces = folded.split("\r\n")
    assert len(pieces) > 5
    for piece in pieces:
        assert len(piece.encode()) <= 75
        piece.encode().decode()  # each physical line is whole UTF-8 on its own
    assert all(piece.startswith(" ") for piece in pieces[1:])
    assert folded.replace("\r\n ", "") == line
    assert _fold("SUMMARY:short") == "SUMMARY:short"


def test_the_downloaded_file_has_every_line_within_75_octets(
    client, hostile_visit, tenant
):
    client.force_login(tenant)
    response = client.get(reverse("visits:ics", kwargs={"pk": hostile_visit.pk}))
    raw = response.content
    physical = raw.split(b"\r\n")
    assert physical[-1] == b""
    assert all(len(line) <= 75 for line in physical)
    for line in physical:
        line.decode()  # never a character split across two lines


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_tenant_downloads_a_calendar_file_that_keeps_the_street_in_its_field(
    page, live_server, login_as, tenant, owner
):
    listing = open_every_day(
        ListingFactory(owner=owner, title="Flat, sunny; quiet", street=HOSTILE)
    )
    login_as(page, tenant)
    page.goto(
        live_server.url + reverse("visits:book", kwargs={"listing_pk": listing.pk})
    )
    page.locator(".slot-option").first.click()
    page.get_by_role("button", name="Request this visit").click()
    expect(page.get_by_test_id("visit-status")).to_have_text("Waiting for confirmation")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    with open(download_info.value.path(), "rb") as file:
        body = file.read()
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    # A lenient calendar reads a bare CR or LF as the end of a line too.
    lenient = re.split(rb"\r\n|\r|\n", body)
    assert not any(line.startswith((b"BEGIN:VALARM", b"ATTENDEE")) for line in lenient)
    lines = unfold(body.decode())
    assert sum(line.startswith("ATTENDEE") for line in lines) == 0
    assert sum(line == "BEGIN:VEVENT" for line in lines) == 1
    assert any(line.startswith("LOCATION:Ward 3\\nATTENDEE:mailto") for line in lines)
