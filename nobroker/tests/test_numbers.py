"""Numbers in the page's digits: Devanagari on Nepali pages, English unchanged,
and machine-read numbers (URLs, data- attributes, form values) always ASCII."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.template import engines
from django.urls import reverse
from django.utils import translation

from accounts.tests.factories import UserFactory
from listings.tests.factories import ListingFactory
from messaging.tests.factories import ConversationFactory, MessageFactory
from nobroker.numbers import Shown, nepali_grouping, shown

ASCII_DIGIT = re.compile("[0-9]")
NEPALI_DIGIT = re.compile("[०-९]")


class _Spots(HTMLParser):
    """The text inside every element that has one of `classes` (or one of
    those names as an attribute), nested elements included."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}

    def __init__(self, classes):
        super().__init__()
        self.classes = set(classes)
        self.open = []  # one [matched, text parts] per open element
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        attrs = dict(attrs)
        names = set((attrs.get("class") or "").split()) | set(attrs)
        matched = bool(names & self.classes)
        self.open.append((tag, matched, []))

    def handle_endtag(self, tag):
        while self.open:
            name, matched, parts = self.open.pop()
            if matched:
                self.found.append(" ".join("".join(parts).split()))
            if self.open:
                self.open[-1][2].extend(parts)
            if name == tag:
                break

    def handle_data(self, data):
        if self.open:
            self.open[-1][2].append(data)


def spots(response, *classes) -> list[str]:
    parser = _Spots(classes)
    parser.feed(response.content.decode())
    return parser.found


def _get(client, url, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(url)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.content.decode()
    return response


def _all_nepali(texts: list[str]) -> None:
    assert texts
    for text in texts:
        assert not ASCII_DIGIT.search(text), text


# --- The mechanism -------------------------------------------------------------


def test_nepali_grouping_puts_lakhs_and_crores_in_groups_of_two():
    assert nepali_grouping(999) == "999"
    assert nepali_grouping(150000) == "1,50,000"
    assert nepali_grouping(12345678) == "1,23,45,678"
    assert nepali_grouping(-4500) == "-4,500"


def test_shown_number_prints_in_the_page_digits_and_stays_a_number():
    with translation.override("ne"):
        n = shown(1234567, grouped=True)
        assert isinstance(n, Shown)
        assert str(n) == "१२,३४,५६७"
        assert n == 1234567 and n + 1 == 1234568
        assert str(shown(42)) == "४२"
        assert shown("12.5%") == "१२.५%"
        assert shown(None) is None
    with translation.override("en"):
        assert str(shown(1234567, grouped=True)) == "1,234,567"
        assert str(shown(42)) == "42"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "1 place|5 places|1,234,567|12,345.50|1234567"),
        ("ne", "१ ठाउँ|५ ठाउँहरू|१२,३४,५६७|१२,३४५.५०|१२३४५६७"),
    ],
)
def test_filters_print_counts_plurals_and_grouping_in_the_page_language(
    language, expected
):
    template = engines["django"].from_string(
        "{% load i18n %}"
        "{% blocktranslate count n=one|digits %}{{ n }} place{% plural %}"
        "{{ n }} places{% endblocktranslate %}|"
        "{% blocktranslate count n=five|intcomma %}{{ n }} place{% plural %}"
        "{{ n }} places{% endblocktranslate %}|"
        "{{ big|intcomma }}|{{ fraction|intcomma }}|{{ big|digits }}"
    )
    with translation.override(language):
        html = template.render(
            {"one": 1, "five": 5, "big": 1234567, "fraction": "12345.50"}
        )
    assert html == expected


def test_humanize_is_not_installed_so_its_ascii_intcomma_cannot_come_back():
    assert "django.contrib.humanize" not in settings.INSTALLED_APPS


# --- The pages -----------------------------------------------------------------


@pytest.fixture
def listings(db, monkeypatch):
    # Two results a page, so three listings make a second page.
    monkeypatch.setattr("listings.search.PAGE_SIZE", 2)
    owner = UserFactory(role="owner", email_verified=True)
    return [
        ListingFactory(
            owner=owner,
            rent=150_000,
            bedrooms=3,
            bike_parking=2,
            car_parking=1,
            water_hours=12,
            minimum_stay_months=6,
        )
        for _ in range(3)
    ]


def test_home_cards_show_nepali_digits_and_english_is_unchanged(client, listings):
    spots_ne = spots(
        _get(client, reverse("home"), "ne"),
        "listing-card__rent",
        "listing-card__meta",
        "facts-inline",
    )
    _all_nepali(spots_ne)
    assert "रु. १,५०,०००" in " ".join(spots_ne)
    assert any("३ सुत्ने कोठा" in text for text in spots_ne), spots_ne
    spots_en = spots(
        _get(client, reverse("home"), "en"), "listing-card__rent", "facts-inline"
    )
    assert "Rs. 1,50,000 / month" in spots_en
    assert "💧 Water 12 hrs/day🏍 2 bikes🚗 1 car" in spots_en


def test_search_result_count_and_pages_in_nepali_digits_links_in_ascii(
    client, listings
):
    url = reverse("listings:search") + "?page=2"
    response = _get(client, url, "ne")
    texts = spots(response, "result-count", "pager__where", "listing-card__rent")
    _all_nepali(texts)
    assert any(text.startswith("३ ठाउँहरू") for text in texts), texts
    assert "२ मध्ये पृष्ठ २" in texts
    # The previous-page link still says page=1 to the server.
    assert 'href="?page=1"' in response.content.decode()

    english = _get(client, url, "en")
    assert "3 places" in spots(english, "result-count")[0]
    assert spots(english, "pager__where") == ["Page 2 of 2"]


def test_listing_page_facts_in_nepali_digits(client, listings):
    listing = listings[0]
    response = _get(client, listing.get_absolute_url(), "ne")
    facts = spots(response, "listing__rent", "facts")
    _all_nepali(facts)
    assert "रु. १,५०,०००" in facts[0]
    assert any("दिनमा १२ घण्टा" in text for text in facts), facts
    english = spots(_get(client, listing.get_absolute_url(), "en"), "facts")
    assert "12 hours a day" in english[0]


def test_my_listings_numbers_in_nepali_digits(client, listings):
    client.force_login(listings[0].owner)
    response = _get(client, reverse("listings:mine"), "ne")
    html = response.content.decode()
    numbers = re.findall(r"<strong>([^<]*)</strong>", html)
    numbers = [n for n in numbers if NEPALI_DIGIT.search(n) or ASCII_DIGIT.search(n)]
    _all_nepali(numbers)
    rents = re.findall(r"रु\. [^ <]+", html)
    assert rents and all(not ASCII_DIGIT.search(r) for r in rents)


@pytest.mark.django_db
def test_unread_badge_counts_in_nepali_digits_with_the_number_in_data_count(client):
    conversation = ConversationFactory()
    for _ in range(3):
        MessageFactory(conversation=conversation)
    client.force_login(conversation.owner)
    response = _get(client, reverse("messaging:inbox"), "ne")
    assert spots(response, "data-unread-number") == ["३"]
    html = response.content.decode()
    # The script reads and adds to the ASCII count; the page shows ३.
    assert re.search(r'data-unread-badge[^>]*data-count="3"', html)
    english = _get(client, reverse("messaging:inbox"), "en")
    assert spots(english, "data-unread-number") == ["3"]


@pytest.mark.django_db
def test_inbox_pagination_in_nepali_digits(client, monkeypatch):
    monkeypatch.setattr("messaging.views.PAGE_SIZE", 1)
    tenant = UserFactory(role="tenant")
    for _ in range(2):
        ConversationFactory(tenant=tenant)
    client.force_login(tenant)
    response = _get(client, reverse("messaging:inbox"), "ne")
    pager = spots(response, "pager")
    _all_nepali(pager)
    assert "२ मध्ये पृष्ठ १" in pager[0]
    assert 'href="?page=2"' in response.content.decode()
