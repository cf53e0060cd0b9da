"""
The URL-by-role matrix every app's `tests/test_urls.py` fills in.

Each app has a `MATRIX`: one row per route name, saying what each role gets
(`check` requests the route as each role and compares):

    "edit": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),

The five answers are for anonymous, tenant, owner, other owner and staff, in
that order (the `ROLES`); the tenant is the one who booked or wrote, the owner
owns the listing, the other owner and staff are neither. An answer is a status
code, "login" (a redirect to the login page), "home" (a redirect to the home
page) or 302 (any other redirect). `args` are the URL's arguments, formatted
with the objects the app's test makes (`{listing.pk}`, `{visit.pk}`); `post`
sends an empty POST instead of a GET. `nobroker/tests/test_urls.py` checks that
every route of the site has its row.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

ROLES = ("anonymous", "tenant", "owner", "other_owner", "staff")


@dataclass(frozen=True)
class Route:
    anonymous: int | str
    tenant: int | str
    owner: int | str
    other_owner: int | str
    staff: int | str
    args: list[str] = field(default_factory=list)
    post: bool = False

    def expected(self, role: str) -> int | str:
        return getattr(self, role)


def cases(matrix: dict[str, Route]) -> list:
    """`(name, role)` for every row and role, as pytest parameters."""
    return [
        pytest.param(name, role, id=f"{name}-{role}")
        for name in sorted(matrix)
        for role in ROLES
    ]


def user_for(request, role: str):
    """The logged-in user of a role (None for anonymous), from the root fixtures."""
    if role == "anonymous":
        return None
    return request.getfixturevalue(role)


def check(client, request, matrix: dict[str, Route], name: str, role: str, objects):
    """
    Requests the route `name` ("app:route") as the role's user and compares
    the answer with its row in `matrix`.
    """
    route = matrix[name.rpartition(":")[2] if ":" in name else name]
    url = reverse(name, args=[arg.format(**objects) for arg in route.args])
    user = user_for(request, role)
    if user is not None:
        client.force_login(user)
    response = client.post(url) if route.post else client.get(url)
    expected = route.expected(role)
    where = f"{name} as {role}: {response.status_code}"
    if expected == "login":
        assert response.status_code == 302, where
        assert response["Location"].startswith(reverse("accounts:login")), where
    elif expected == "home":
        assert response.status_code == 302, where
        assert response["Location"] == reverse("home"), where
    elif expected == 302:
        assert response.status_code == 302, where
        assert not response["Location"].startswith(reverse("accounts:login")), where
    else:
        assert response.status_code == expected, where
    return response
