"""Every redirect whose target comes from the request stays on this site."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from conftest import PASSWORD
from listings.tests.factories import ListingFactory
from nobroker.redirects import safe_next_url

OFFSITE = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http://evil.example/rent/",
    "HTTPS://evil.example",
    "https:evil.example",
    "http:///evil.example",
    "///evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\x00//evil.example",
    "\x01/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\u200b//evil.example",
    "https://testserver@evil.example/",
    "//testserver@evil.example",
    "http://evil.example\\@testserver/",
]
# Encoded forms arrive decoded once by Django: these are what the view sees
# when someone double-encodes, and they must stay paths on this site.
STAYS_HERE = [
    "/rent/",
    "/rent/?q=flat&page=2",
    "/rent/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    "http://testserver/rent/",
]


@pytest.fixture
def rf_request():
    return RequestFactory().get("/")


@pytest.mark.parametrize("url", OFFSITE)
def test_offsite_and_script_targets_are_refused(rf_request, url):
    assert safe_next_url(rf_request, url) == ""


@pytest.mark.parametrize("url", STAYS_HERE)
def test_paths_of_this_site_are_kept(rf_request, url):
    assert safe_next_url(rf_request, url) == url


def test_over_https_a_plain_http_target_is_refused():
    secure = RequestFactory().get("/", secure=True)
    assert safe_next_url(secure, "http://testserver/rent/") == ""
    assert (
        safe_next_url(secure, "https://testserver/rent/") == "https://testserver/rent/"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", OFFSITE)
def test_shortlist_toggle_goes_back_to_the_listing_for_an_offsite_next(
    client, tenant, url
):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(
        reverse("listings:shortlist_toggle", args=[listing.pk]), {"next": url}
    )
    assert response.status_code == 302
    assert response["Location"] == listing.get_absolute_url()


@pytest.mark.django_db
def test_shortlist_toggle_returns_to_the_page_it_was_pressed_on(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(
        reverse("listings:shortlist_toggle", args=[listing.pk]),
        {"next": "/rent/?q=flat"},
    )
    assert response["Location"] == "/rent/?q=flat"


@pytest.mark.django_db
@pytest.mark.parametrize("url", OFFSITE)
def test_login_ignores_an_offsite_next(client, tenant, url):
    response = client.post(
        reverse("accounts:login"),
        {"username": tenant.email, "password": PASSWORD, "next": url},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_login_form_does_not_carry_an_offsite_next(client):
    page = client.get(reverse("accounts:login"), {"next": "/\\evil.example"})
    assert page.context["next"] == ""
    assert '<input type="hidden" name="next" value="">' in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url", OFFSITE)
def test_the_language_switch_stays_on_the_site(client, url):
    response = client.post(
        reverse("set_language"),
        {"language": "ne", "next": url},
        HTTP_REFERER=url,
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["//evil.example", "/\\evil.example"])
def test_logout_ignores_an_offsite_next(client, tenant, url):
    client.force_login(tenant)
    response = client.post(reverse("accounts:logout"), {"next": url})
    assert response["Location"] == reverse("home")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_tampered_next_keeps_the_person_on_the_site(
    page, live_server, login_as, tenant
):
    """A shortlist heart whose hidden `next` was changed to another site, and a
    login link with an offsite `next`, both leave the person on this site."""
    offsite = []

    def only_this_site(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_site)
    listing = ListingFactory(title="Flat by the stupa")

    page.goto(f"{live_server.url}/accounts/login/?next=/%5Cevil.example")
    page.get_by_label("Email address").fill(tenant.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/"

    page.goto(f"{live_server.url}{reverse('listings:search')}")
    page.locator('.shortlist-form input[name="next"]').first.evaluate(
        "input => { input.value = '/\\\\evil.example'; }"
    )
    page.get_by_role("button", name=f"Shortlist {listing.title}").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}{listing.get_absolute_url()}"
    assert page.get_by_text("Added to your shortlist.").is_visible()
    assert offsite == []
