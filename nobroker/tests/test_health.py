import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_each_dependency(client):
    from django.db import connection

    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}
    if connection.vendor == "postgresql":
        # The numbers of the pool the pages borrow from: the check's own
        # connection is back in it.
        pool = body["pool"]
        assert pool["max"] == connection.settings_dict["OPTIONS"]["pool"]["max_size"]
        assert 1 <= pool["idle"] <= pool["size"] <= pool["max"]
        assert pool["waiting"] == 0
    else:
        assert "pool" not in body


@pytest.mark.django_db
def test_home_page_offers_the_locality_picker(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "No broker, no commission." in content
    assert '<option value="koteshwor">Koteshwor</option>' in content
