"""Fixtures shared by every app's tests."""

import os
import shutil

import pytest
from django.core import mail

from accounts.tests.factories import UserFactory

PASSWORD = "a-Strong-pass-2026"


def pytest_configure(config):
    # Playwright's sync API runs an event loop in the test thread; Django must still
    # allow plain ORM calls from the test body (setup and assertions).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    # Playwright's sync API keeps an event loop running in the main thread for the
    # rest of the session, which breaks later tests that call async views through
    # the test client: browser journeys run last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (ratelimits, lockouts, cached pages)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def tenant(db):
    return UserFactory(role="tenant", email_verified=True)


@pytest.fixture
def owner(db):
    return UserFactory(role="owner", email_verified=True, phone="+9779841234567")


@pytest.fixture
def other_owner(db):
    return UserFactory(role="owner", email_verified=True)


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, email_verified=True)


@pytest.fixture
def mailbox():
    """The test mailbox: every email the code sent in this test."""
    mail.outbox.clear()
    return mail.outbox


# --- Browser tests --------------------------------------------------------------


def _chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "Browser tests need Debian's chromium package (apt-get install chromium)."
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the system Chromium; the tests never download a browser."""
    return {
        **browser_type_launch_args,
        "executable_path": _chromium_path(),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}}


@pytest.fixture
def login_as(live_server):
    """Logs a user in through the real login page of a Playwright page."""

    def _login(page, user, password=PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        return page

    return _login
