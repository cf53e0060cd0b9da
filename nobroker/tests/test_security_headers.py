"""
Security headers: the Content-Security-Policy on every page, the report
endpoint, and an A+ under the Mozilla HTTP Observatory's scoring rules for
pages served by daphne with production settings.
"""

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.urls import reverse

from conftest import _database_url_for_child
from nobroker import ratelimits
from nobroker.ratelimits import Limit
from nobroker.tests.servers import start_daphne, stop

BASE_DIR = Path(__file__).resolve().parents[2]


# --- The HTTP Observatory's rules -------------------------------------------------
# The tests and modifiers of https://developer.mozilla.org/en-US/observatory/docs/
# tests_and_scoring, for one page: penalties first, bonuses only when the score
# without them is 90 or more; 100 and up is A+.


def _directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), words[1:])
    return found


def _csp(headers: dict[str, str]) -> tuple[str, int]:
    policy = headers.get("content-security-policy")
    if not policy:
        return "csp-not-implemented", -25
    csp = _directives(policy)
    default = csp.get("default-src")
    script = csp.get("script-src", default)
    style = csp.get("style-src", default)
    objects = csp.get("object-src", default)
    if script is None or objects is None:
        return "csp-implemented-with-unsafe-inline", -20
    broad = {"*", "http:", "https:", "data:", "'unsafe-inline'"}
    if broad & set(script) or {"*", "http:", "https:"} & set(objects):
        return "csp-implemented-with-unsafe-inline", -20
    if "'unsafe-eval'" in script:
        return "csp-implemented-with-unsafe-eval", -10
    if any(value.startswith("http:") for values in csp.values() for value in values):
        return "csp-implemented-with-insecure-scheme", -20
    if style and "'unsafe-inline'" in style:
        return "csp-implemented-with-unsafe-inline-in-style-src-only", 0
    if default == ["'none'"]:
        return "csp-implemented-with-no-unsafe-default-src-none", 10
    return "csp-implemented-with-no-unsafe", 5


def _cookies(set_cookies: list[str], hsts: bool) -> tuple[str, int]:
    if not set_cookies:
        return "cookies-not-found", 0
    all_samesite = True
    for header in set_cookies:
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            session = "session" in name.lower() or "csrf" in name.lower()
            samesite = morsel["samesite"].lower()
            if samesite and samesite not in {"lax", "strict"}:
                return "cookies-samesite-flag-invalid", -20
            all_samesite &= bool(samesite)
            if "csrf" in name.lower() and not samesite:
                return "cookies-anticsrf-without-samesite-flag", -20
            if session and not morsel["httponly"]:
                return "cookies-session-without-httponly-flag", -30
            if not morsel["secure"]:
                if session:
                    return "cookies-session-without-secure-flag", -10 if hsts else -40
                return "cookies-without-secure-flag", -5 if hsts else -20
    if all_samesite:
        return "cookies-secure-with-httponly-sessions-and-samesite", 5
    return "cookies-secure-with-httponly-sessions", 0


def _hsts(headers) -> tuple[str, int]:
    value = headers.get("strict-transport-security", "")
    parts = {p.strip().split("=")[0].lower(): p for p in value.split(";") if p.strip()}
    if "max-age" not in parts:
        return "hsts-not-implemented", -20
    age = int(parts["max-age"].split("=")[1])
    if age < 15768000:
        return "hsts-implemented-max-age-less-than-six-months", -10
    # Being on the preload list itself (+5) can only be checked on the live site.
    return "hsts-implemented-max-age-at-least-six-months", 0


def _referrer(headers) -> tuple[str, int]:
    value = headers.get("referrer-policy", "").split(",")[-1].strip().lower()
    private = {"no-referrer", "same-origin", "strict-origin"}
    private.add("strict-origin-when-cross-origin")
    if not value:
        return "referrer-policy-not-implemented", 0
    if value in private:
        return "referrer-policy-private", 5
    if value in {"origin", "origin-when-cross-origin", "unsafe-url"}:
        return "referrer-policy-unsafe", -5
    return "referrer-policy-no-referrer-when-downgrade", 0


def _frames(headers) -> tuple[str, int]:
    csp = _directives(headers.get("content-security-policy", ""))
    if csp.get("frame-ancestors") in (["'none'"], ["'self'"]):
        return "x-frame-options-implemented-via-csp", 5
    if headers.get("x-frame-options", "").upper() in {"DENY", "SAMEORIGIN"}:
        return "x-frame-options-sameorigin-or-deny", 0
    return "x-frame-options-not-implemented", -20


def observatory(https_page: dict, http_redirect: dict) -> tuple[int, dict]:
    headers = https_page["headers"]
    hsts = "strict-transport-security" in headers
    results = {
        "csp": _csp(headers),
        "cookies": _cookies(https_page["set_cookies"], hsts),
        "cors": (
            ("cross-origin-resource-sharing-implemented-with-universal-access", -50)
            if headers.get("access-control-allow-origin") == "*"
            else ("cross-origin-resource-sharing-not-implemented", 0)
        ),
        "redirection": (
            ("redirection-to-https", 0)
            if http_redirect["status"] in (301, 302, 307, 308)
            and http_redirect["location"].startswith("https://")
            else ("redirection-missing", -20)
        ),
        "referrer": _referrer(headers),
        "hsts": _hsts(headers),
        "sri": (
            ("sri-not-implemented-but-all-scripts-loaded-from-secure-origin", 0)
            if all(src.startswith("/") for src in https_page["script_srcs"])
            else ("sri-not-implemented-but-external-scripts-loaded-securely", -5)
        ),
        "x-content-type-options": (
            ("x-content-type-options-nosniff", 0)
            if headers.get("x-content-type-options", "").lower() == "nosniff"
            else ("x-content-type-options-not-implemented", -5)
        ),
        "x-frame-options": _frames(headers),
        "corp": (
            ("corp-implemented-with-same-origin", 0)
            if headers.get("cross-origin-resource-policy") == "same-origin"
            else ("corp-not-implemented", 0)
        ),
    }
    score = 100 + sum(m for _, m in results.values() if m < 0)
    if score >= 90:
        score += sum(m for _, m in results.values() if m > 0)
    return max(score, 0), results


def test_the_scorer_marks_a_page_without_a_policy_down():
    page = {
        "headers": {"x-frame-options": "DENY", "x-content-type-options": "nosniff"},
        "set_cookies": ["sessionid=x; Path=/"],
        "script_srcs": ["/static/js/site.js"],
    }
    score, results = observatory(page, {"status": 200, "location": ""})
    assert results["csp"][0] == "csp-not-implemented"
    assert score < 50
    page["headers"]["content-security-policy"] = "script-src 'self' 'unsafe-inline'"
    assert observatory(page, {"status": 200, "location": ""})[0] < 50


# --- Pages served with production settings ----------------------------------------


def _fetch(url: str, headers: dict) -> dict:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        response = opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    body = response.read().decode(errors="replace")
    scripts = [
        part.split('"', 2)[1]
        for part in body.split("<script")[1:]
        if part.lstrip().startswith("src=")
    ]
    return {
        "status": response.status,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "set_cookies": response.headers.get_all("Set-Cookie") or [],
        "location": response.headers.get("Location", ""),
        "script_srcs": scripts,
        "body": body,
    }


@pytest.fixture(scope="module")
def production_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne with production variables (no debug, HTTPS behind one proxy)."""
    with django_db_blocker.unblock():
        database_url = _database_url_for_child()
    static_root = tmp_path_factory.mktemp("static")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SENTRY_", "PYTEST_"))
        and key not in {"LOCAL_HTTP"}
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="nobroker.example.com",
        CSRF_TRUSTED_ORIGINS="https://nobroker.example.com",
        DATABASE_URL=database_url,
        STATIC_ROOT=str(static_root),
        PROXY_COUNT="1",
        TASKS_BACKEND="immediate",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    server, url = start_daphne(env)
    yield url
    stop(server)


HOST = {"Host": "nobroker.example.com"}
HTTPS = {**HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.4"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/"])
def test_pages_score_a_plus_under_the_observatory_rules(production_server, path):
    page = _fetch(production_server + path, HTTPS)
    assert page["status"] == 200, page["body"][:500]
    redirect = _fetch(production_server + path, HOST)
    score, results = observatory(page, redirect)
    penalties = {test: r for test, r in results.items() if r[1] < 0}
    assert not penalties
    assert score >= 100, results
    assert results["csp"][1] == 10
    assert "preload" in page["headers"]["strict-transport-security"]
    assert page["headers"]["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in page["headers"]["permissions-policy"]
    if path != "/":
        assert results["cookies"][1] == 5


def test_production_settings_pass_the_deploy_check_with_csp():
    from nobroker.tests.test_settings import run_manage

    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="nobroker.example.com",
        REDIS_URL="redis://127.0.0.1:1/0",
        AWS_STORAGE_BUCKET_NAME="nobroker-media",
        AWS_S3_CUSTOM_DOMAIN="media.nobroker.example.com",
        EMAIL_HOST="smtp.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECURE_CSP['img-src'])",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        AWS_STORAGE_BUCKET_NAME="nobroker-media",
        AWS_S3_CUSTOM_DOMAIN="media.nobroker.example.com",
    )
    assert "https://media.nobroker.example.com" in shown.stdout, shown.stderr


# --- Every page, the admin included --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/", "/rent/", "/accounts/login/", "/admin/login/", "/no-such-page/"]
)
def test_every_page_sends_the_policy_without_unsafe_inline(client, url):
    response = client.get(url)
    policy = response["Content-Security-Policy"]
    csp = _directives(policy)
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert "unsafe-inline" not in policy
    assert "<style" not in response.content.decode()
    assert " style=" not in response.content.decode()


@pytest.mark.django_db
def test_admin_change_list_inline_style_carries_the_pages_nonce(client, staff):
    client.force_login(staff)
    response = client.get(reverse("admin:listings_locality_changelist"))
    assert response.status_code == 200
    nonce = _directives(response["Content-Security-Policy"])["script-src"][-1]
    if nonce.startswith("'nonce-"):
        assert f'nonce="{nonce[7:-1]}"' in response.content.decode()


@pytest.mark.django_db
def test_report_only_switch_sends_the_policy_as_report_only(client, settings):
    settings.SECURE_CSP_REPORT_ONLY = settings.SECURE_CSP
    settings.SECURE_CSP = {}
    response = client.get("/")
    assert "Content-Security-Policy" not in response
    assert "default-src 'none'" in response["Content-Security-Policy-Report-Only"]


def _report(**fields):
    return json.dumps({"csp-report": fields})


@pytest.mark.django_db
def test_violation_reports_are_logged_without_query_strings(client, caplog):
    body = _report(
        **{
            "document-uri": "https://nobroker.example.com/rent/?q=secret",
            "blocked-uri": "inline",
            "violated-directive": "script-src-elem",
        }
    )
    with caplog.at_level("WARNING", logger="nobroker.csp"):
        response = client.post(
            reverse("csp_report"), body, content_type="application/csp-report"
        )
    assert response.status_code == 204
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "script-src-elem" in logged and "/rent/" in logged
    assert "secret" not in logged


@pytest.mark.django_db
def test_reporting_api_format_is_understood(client, caplog):
    body = json.dumps(
        [{"type": "csp-violation", "body": {"effectiveDirective": "img-src"}}]
    )
    with caplog.at_level("WARNING", logger="nobroker.csp"):
        response = client.post(
            reverse("csp_report"), body, content_type="application/reports+json"
        )
    assert response.status_code == 204
    assert "img-src" in caplog.text


@pytest.mark.django_db
def test_oversize_or_garbage_reports_are_refused(client, settings):
    url = reverse("csp_report")
    huge = _report(**{"blocked-uri": "x" * settings.CSP_REPORT_MAX_BYTES})
    assert client.post(url, huge, content_type="application/json").status_code == 413
    assert client.post(url, "not json", content_type="text/plain").status_code == 400
    assert client.post(url, "[]", content_type="application/json").status_code == 400
    assert client.get(url).status_code == 405


@pytest.mark.django_db
def test_reports_are_rate_limited_per_address(client, monkeypatch):
    monkeypatch.setitem(ratelimits.LIMITS, "csp_report", Limit(address="2/m"))
    url = reverse("csp_report")
    body = _report(**{"blocked-uri": "inline"})
    statuses = [
        client.post(url, body, content_type="application/csp-report").status_code
        for _ in range(3)
    ]
    assert statuses == [204, 204, 429]


@pytest.mark.browser
def test_the_browser_journeys_would_catch_a_violation(page, context, live_server):
    page.goto(f"{live_server.url}/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = 1'; document.body.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in text for text in context.csp_violations)
    context.csp_violations.clear()
