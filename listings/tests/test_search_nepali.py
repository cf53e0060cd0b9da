"""Search in Nepali: localities and common words in either script, Devanagari text."""

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse

from listings.search import build_search, fold, split_text
from listings.tests.factories import ListingFactory, locality

pytestmark = pytest.mark.django_db


def _found(client, q: str, **params) -> str:
    return client.get(reverse("listings:search"), {"q": q, **params}).content.decode()


@pytest.mark.parametrize(
    ("typed", "slug"),
    [
        ("बानेश्वर", "old-baneshwor"),
        ("baneswor", "new-baneshwor"),
        ("ठमेल", "thamel"),
        ("झम्सिखेलमा", "jhamsikhel"),
        ("पुरानो बानेश्वर", "old-baneshwor"),
    ],
)
def test_devanagari_and_romanised_locality_names_find_the_same_place(typed, slug):
    ids, words = split_text(typed)
    assert locality(slug).pk in ids
    assert words == []


def test_a_district_name_in_either_script_finds_its_localities():
    patan = locality("patan").pk
    assert patan in split_text("ललितपुर")[0]
    assert patan in split_text("Lalitpur")[0]
    assert locality("thamel").pk not in split_text("ललितपुर")[0]


@pytest.mark.parametrize("word", ["कोठा", "kotha", "room"])
def test_room_in_either_script_filters_by_type(word):
    search = build_search(QueryDict(urlencode({"q": word})))
    assert search.types == ["room"]


def test_flat_in_devanagari_finds_flats_not_rooms(client):
    ListingFactory(property_type="flat", title="Bright flat")
    ListingFactory(property_type="room", title="Single room")
    html = _found(client, "फ्ल्याट")
    assert "Bright flat" in html
    assert "Single room" not in html


def test_water_in_either_script_finds_listings_written_in_either(client):
    english = ListingFactory(title="Flat with water all day", description="Quiet.")
    nepali = ListingFactory(title="राम्रो फ्ल्याट", description="दिनभरि पानी आउँछ।")
    dry = ListingFactory(title="Dry flat", description="Tanker only.")
    for word in ("पानी", "water", "pani"):
        html = _found(client, word)
        assert english.title in html, word
        assert nepali.title in html, word
        assert dry.title not in html, word


def test_devanagari_free_text_finds_listings_written_in_devanagari(client):
    match = ListingFactory(
        title="बार्दली भएको कोठा", description="घाम लाग्ने, शान्त गल्ली, भान्सा छुट्टै।"
    )
    other = ListingFactory(title="शान्त फ्ल्याट", description="पार्किङ छ।")
    html = _found(client, "घाम लाग्ने")
    assert match.title in html
    assert other.title not in html
    # A prefix of a word finds the longer word, as in English.
    assert match.title in _found(client, "शान्")


def test_chandrabindu_and_anusvara_spellings_meet(client):
    written = ListingFactory(title="काठमाडौँको मुटुमा कोठा", description="गाउँ जस्तो शान्त।")
    assert fold("गाउँ") == fold("गाउं")
    assert written.title in _found(client, "गाउं")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full text")
def test_stored_document_keeps_devanagari_words_whole_and_folded():
    listing = ListingFactory(title="कोठा भाडामा", description="गाउँ")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM listings_listing WHERE id = %s",
            [listing.pk],
        )
        document = cursor.fetchone()[0]
    assert "'कोठा'" in document
    assert "'भाडामा'" in document
    assert "'गाउं'" in document
