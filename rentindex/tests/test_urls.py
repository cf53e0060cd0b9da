"""Every rent index URL, classified by who may use it: a new route must be added here."""

import pytest
from django.urls import reverse

from rentindex import urls

pytestmark = pytest.mark.django_db

# For each URL name: the status for anonymous, tenant, other owner, owner, staff.
MATRIX = {
    "index": (200, 200, 200, 200, 200),
    "csv": (200, 200, 200, 200, 200),
}


def test_every_rent_index_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_answers_each_role_as_classified(
    client, name, tenant, owner, other_owner, staff
):
    url = reverse(f"rentindex:{name}")
    for user, expected in zip(
        (None, tenant, other_owner, owner, staff), MATRIX[name], strict=True
    ):
        client.logout()
        if user:
            client.force_login(user)
        assert client.get(url).status_code == expected, (name, user)
