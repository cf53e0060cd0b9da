"""The language switch, the remembered choice, and Nepali input in forms."""

import pytest
from django.conf import settings
from django.urls import reverse

from listings.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_switch_sets_the_cookie_and_returns_to_the_same_page(client):
    response = client.post(
        reverse("set_language"), {"language": "ne", "next": "/rent/?q=flat"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/rent/?q=flat"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ne"
    page = client.get("/rent/?q=flat")
    assert '<html lang="ne">' in page.content.decode()


def test_switch_is_remembered_on_the_account_and_wins_over_the_cookie(client, tenant):
    client.force_login(tenant)
    client.post(reverse("set_language"), {"language": "ne", "next": "/"})
    tenant.refresh_from_db()
    assert tenant.language == "ne"
    # Another device: no cookie, or an English one; the account decides.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert '<html lang="ne">' in client.get(reverse("home")).content.decode()


def test_switch_refuses_get_and_an_unknown_language(client):
    assert client.get(reverse("set_language")).status_code == 405
    response = client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_header_and_footer_carry_the_switch(client):
    html = client.get(reverse("home")).content.decode()
    assert html.count('data-testid="language-switch"') == 2
    assert "नेपाली" in html


def test_shared_listing_link_opens_the_same_listing_in_nepali(client):
    listing = ListingFactory(rent=150000)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ne"
    response = client.get(listing.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert listing.title in html
    assert "रु. १,५०,०००" in html
    assert "वि.सं." in html


def test_search_accepts_nepali_digits_and_grouped_rupees(client):
    cheap = ListingFactory(rent=8000, title="Cheap room")
    dear = ListingFactory(rent=200000, title="Dear house")
    html = client.get(
        reverse("listings:search"), {"rent_max": "१,५०,०००"}
    ).content.decode()
    assert cheap.title in html
    assert dear.title not in html


def test_switch_returns_to_the_page_it_was_on(client):
    response = client.post(
        reverse("set_language"),
        {"language": "ne"},
        headers={"referer": "http://testserver/rent/?q=kotha"},
    )
    assert response["Location"] == "http://testserver/rent/?q=kotha"
