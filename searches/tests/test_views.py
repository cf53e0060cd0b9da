"""Saving a search from the search page, managing it, the signed unsubscribe link."""

import pytest
from django.urls import reverse

from searches.models import SavedSearch
from searches.services import saved_search_create

pytestmark = pytest.mark.django_db


def test_search_page_offers_to_save_the_current_search(client, tenant):
    client.force_login(tenant)
    html = client.get(reverse("listings:search"), {"q": "flat", "page": "2"}).content
    assert b'data-testid="save-search"' in html
    assert b'value="q=flat"' in html


def test_anonymous_visitor_is_asked_to_log_in_to_save(client):
    html = client.get(reverse("listings:search"), {"q": "flat"}).content.decode()
    assert "Log in to save this search" in html


def test_saving_keeps_the_query_and_chosen_alerts(client, tenant):
    client.force_login(tenant)
    response = client.post(
        reverse("searches:create"),
        {
            "name": "Baneshwor flats",
            "frequency": "weekly",
            "email": "on",
            "query": "type=flat&locality=old-baneshwor&page=3",
        },
    )
    assert response.status_code == 302
    saved = SavedSearch.objects.get(user=tenant)
    assert saved.query == "locality=old-baneshwor&type=flat"
    assert (saved.frequency, saved.email, saved.notify) == ("weekly", True, False)
    assert saved.get_absolute_url() == "/rent/?locality=old-baneshwor&type=flat"


def test_saving_without_a_name_shows_the_field_error(client, tenant):
    client.force_login(tenant)
    response = client.post(reverse("searches:create"), {"frequency": "daily"})
    assert response.status_code == 200
    assert "Give the search a name." in response.content.decode()


def test_nobody_else_can_edit_or_delete_a_saved_search(client, tenant, owner):
    saved = saved_search_create(
        user=tenant, name="Mine", query="q=x", frequency="daily"
    )
    client.force_login(owner)
    assert client.post(reverse("searches:delete", args=[saved.pk])).status_code == 404
    assert SavedSearch.objects.filter(pk=saved.pk).exists()


def test_unsubscribe_link_turns_off_that_search_only_without_login(client, tenant):
    saved = saved_search_create(user=tenant, name="One", query="q=a", frequency="daily")
    other = saved_search_create(user=tenant, name="Two", query="q=b", frequency="daily")
    response = client.get(saved.unsubscribe_url())
    assert response.status_code == 200
    saved.refresh_from_db()
    other.refresh_from_db()
    assert saved.frequency == "off"
    assert other.frequency == "daily"
    client.post(saved.unsubscribe_url())
    saved.refresh_from_db()
    assert saved.frequency == "daily"


def test_tampered_unsubscribe_link_is_not_found(client, tenant):
    saved = saved_search_create(user=tenant, name="One", query="q=a", frequency="daily")
    token = saved.unsubscribe_token()
    bad = reverse("searches:unsubscribe", args=[token[:-2] + "xx"])
    assert client.get(bad).status_code == 404
    saved.refresh_from_db()
    assert saved.frequency == "daily"
