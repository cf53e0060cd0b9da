"""HTML and JSON answers are compressed when asked, and forms keep working."""

import gzip
import re

import brotli
import pytest
from django.test import Client
from django.urls import reverse

from listings.tests.factories import ListingFactory


@pytest.fixture
def listings(db):
    return [ListingFactory() for _ in range(8)]


def get_search(client, encoding):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    return client.get(reverse("listings:search"), headers=headers)


@pytest.mark.django_db
def test_search_page_is_brotli_or_gzip_as_the_client_asks(client, listings):
    plain = get_search(client, "")
    assert "Content-Encoding" not in plain
    br = get_search(client, "gzip, deflate, br")
    gz = get_search(client, "gzip")
    assert br["Content-Encoding"] == "br"
    assert gz["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in plain["Vary"]
    # The same page, a fraction of the bytes.
    assert brotli.decompress(br.content) == plain.content
    assert gzip.decompress(gz.content) == plain.content
    assert len(br.content) < len(plain.content) / 3
    assert len(gz.content) < len(plain.content) / 3
    assert int(br["Content-Length"]) == len(br.content)


@pytest.mark.django_db
def test_json_is_compressed_and_tiny_answers_are_not(client, tenant):
    client.force_login(tenant)
    tiny = client.get(
        reverse("messaging:unread"),
        headers={"Accept": "application/json", "Accept-Encoding": "br"},
    )
    assert tiny.status_code == 200
    assert "Content-Encoding" not in tiny  # a few bytes: not worth it
    assert "Content-Encoding" not in client.get(
        "/healthz", headers={"Accept-Encoding": "br"}
    )


@pytest.mark.django_db
def test_csrf_token_differs_per_compressed_response_and_the_form_still_posts(
    tenant, password
):
    """BREACH: the masked token changes on every answer, so it cannot be guessed."""
    client = Client(enforce_csrf_checks=True)
    url = reverse("accounts:login")

    def token():
        body = brotli.decompress(
            client.get(url, headers={"Accept-Encoding": "br"}).content
        )
        return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[
            1
        ].decode()

    first, second = token(), token()
    assert first != second
    response = client.post(
        url,
        {"username": tenant.email, "password": password, "csrfmiddlewaretoken": second},
        headers={"Accept-Encoding": "br"},
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


@pytest.mark.django_db
def test_static_files_are_left_to_whitenoise(client):
    response = client.get("/static/css/base.css", headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.streaming
