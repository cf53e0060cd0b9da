"""Every staff dashboard URL, classified by who may use it: a new route must be added here."""

import pytest
from django.urls import reverse

from business import urls

pytestmark = pytest.mark.django_db

# For each URL name: the status for anonymous, tenant, other owner, owner, staff.
MATRIX = {
    "dashboard": ("login", 404, 404, 404, 200),
    "csv": ("login", 404, 404, 404, 200),
}


def test_every_business_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_answers_each_role_as_classified(
    client, name, tenant, owner, other_owner, staff
):
    url = reverse(f"business:{name}", args={"csv": ["signups"]}.get(name, []))
    for user, expected in zip(
        (None, tenant, other_owner, owner, staff), MATRIX[name], strict=True
    ):
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("accounts:login"))
        else:
            assert response.status_code == expected, (name, user)
