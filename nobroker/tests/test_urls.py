"""
Every route of the site has a row in its app's URL-by-role matrix, so a new
route that nobody classified (and so nobody checked for who may use it)
fails here. The rows live beside each app: `<app>/tests/test_urls.py`; the
site's own routes are below.
"""

from importlib import import_module
from types import ModuleType

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from django.views.static import serve

from nobroker import views as nobroker_views
from nobroker.tests.roles import Route, cases, check, user_for
from visits import urls as visits_urls
from visits import views as visits_views

pytestmark = pytest.mark.django_db

MATRIX = {
    "home": Route(200, 200, 200, 200, 200),
    "healthz": Route(200, 200, 200, 200, 200),
    "readyz": Route(200, 200, 200, 200, 200),
    "set_language": Route(405, 405, 405, 405, 405),
    # Browsers POST violation reports; the scraper's token or network only.
    "csp_report": Route(405, 405, 405, 405, 405),
    "metrics": Route(404, 404, 404, 404, 404),
}
# Namespaces guarded as a whole by something else: Django's admin lets staff
# only into every one of its pages (see test_admin_is_for_staff_only).
GUARDED_ELSEWHERE = {"admin"}


def site_routes(resolver=None, app: str = "", prefix: str = "/"):
    """
    `(app, name, route)` for every route: the app is the top namespace, the
    name is within it (a nested namespace stays in it), None when unnamed.
    """
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            if inner in GUARDED_ELSEWHERE:
                continue
            if not app:
                yield from site_routes(pattern, inner or "", route)
                continue
            for own_app, name, own_route in site_routes(pattern, app, route):
                nested = f"{inner}:{name}" if inner and name else name
                yield own_app, nested, own_route
        elif isinstance(pattern, URLPattern) and pattern.callback is not serve:
            yield app, pattern.name, route


def matrix_file(app: str) -> str:
    return f"{app}/tests/test_urls.py" if app else "nobroker/tests/test_urls.py"


def matrix_of(app: str) -> dict:
    module = f"{app}.tests.test_urls" if app else "nobroker.tests.test_urls"
    try:
        return import_module(module).MATRIX
    except ModuleNotFoundError:
        return {}


def classification_problems(routes: list[tuple[str, str | None, str]]) -> list[str]:
    """What is wrong with the matrices for these routes, said as what to do."""
    problems = []
    unnamed = sorted(route for _app, name, route in routes if name is None)
    if unnamed:
        problems.append(f"Give these routes a name, then a row: {unnamed}")
    missing: dict[str, list[str]] = {}
    for app, name, route in routes:
        if name is not None and name not in matrix_of(app):
            arguments = route.count("<")
            args = f", args=[{', '.join(['...'] * arguments)}]" if arguments else ""
            missing.setdefault(app, []).append(
                f'    "{name}": Route(..., ..., ..., ..., ...{args}),  # {route}'
            )
    if missing:
        problems.append(
            "Routes without a row in their app's URL-by-role matrix. Add one line "
            "per route: what anonymous, tenant, owner, other owner and staff get "
            "(a status, 'login' or 'home'; see nobroker/tests/roles.py), the URL's "
            "arguments formatted from the test's objects, post=True for a form "
            "action:\n"
            + "\n".join(
                f"  {matrix_file(app)} (for a new app, copy "
                "listings/tests/test_urls.py):\n" + "\n".join(lines)
                for app, lines in sorted(missing.items())
            )
        )
    known = {(app, name) for app, name, _route in routes}
    stale = sorted(
        f"{matrix_file(app)}: {name}"
        for app in {app for app, _name, _route in routes}
        for name in matrix_of(app)
        if (app, name) not in known
    )
    if stale:
        problems.append(f"Remove the rows of routes that no longer exist: {stale}")
    return problems


def test_every_route_of_every_app_is_classified():
    problems = classification_problems(list(site_routes()))
    assert not problems, "\n".join(problems)


def test_a_new_route_without_a_row_fails_with_the_line_to_add():
    share = path("<int:pk>/share/", visits_views.visit_detail, name="not_a_real_route")
    urlconf = ModuleType("urls_with_new_routes")
    urlconf.urlpatterns = [
        path("", nobroker_views.home, name="home"),
        path("visits/", include(([*visits_urls.urlpatterns, share], "visits"))),
        path(
            "ads/",
            include(([path("", nobroker_views.home, name="not_a_real_page")], "ads")),
        ),
        path("about/", nobroker_views.home),
    ]
    problems = "\n".join(
        classification_problems(list(site_routes(get_resolver(urlconf))))
    )
    assert "Give these routes a name, then a row: ['/about/']" in problems
    assert (
        "  visits/tests/test_urls.py (for a new app, copy listings/tests/test_urls.py):\n"
        '    "not_a_real_route": Route(..., ..., ..., ..., ..., args=[...]),  # /visits/<int:pk>/share/'
    ) in problems
    assert "  ads/tests/test_urls.py" in problems
    assert '    "not_a_real_page": Route(..., ..., ..., ..., ...),  # /ads/' in problems
    assert "nobroker/tests/test_urls.py: healthz" in problems


def test_every_app_with_pages_is_mounted():
    mounted = {
        p.namespace for p in get_resolver().url_patterns if hasattr(p, "app_name")
    }
    assert {"accounts", "listings", "visits", "messaging", "admin"} <= mounted


@pytest.mark.parametrize(("name", "role"), cases(MATRIX))
def test_site_route_answers_each_role_as_classified(client, request, name, role):
    check(client, request, MATRIX, name, role, {})


@pytest.mark.parametrize("role", ["anonymous", "tenant", "owner", "staff"])
def test_admin_is_for_staff_only(client, request, role):
    user = user_for(request, role)
    if user is not None:
        client.force_login(user)
    response = client.get("/admin/")
    if role == "staff":
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
