"""Fixtures shared by every app's tests."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core import mail

from accounts.tests.factories import UserFactory

PASSWORD = "a-Strong-pass-2026"


def pytest_configure(config):
    # Playwright's sync API runs an event loop in the test thread; Django must still
    # allow plain ORM calls from the test body (setup and assertions).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The Nepali catalogue is built, not committed: a bare `pytest` builds it too.
    from nobroker.translations import compile_all

    compile_all()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """
    Browser journeys run last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, which async code under test (async
    views, websocket consumers) must not share.
    """
    playwright_fixtures = {"page", "context", "browser", "new_context"}
    browser = [
        item
        for item in items
        if item.get_closest_marker("browser")
        or playwright_fixtures & set(getattr(item, "fixturenames", ()))
    ]
    others = [item for item in items if item not in browser]
    for item in browser:
        item.add_marker(pytest.mark.browser)
    items[:] = others + browser


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SECURE_SSL_REDIRECT = False
    # No map tiles from outside in tests; a map test sets a local tile URL.
    settings.MAP_TILE_URL = ""


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (ratelimits, lockouts, cached pages)."""
    from django.core.cache import cache

    from listings import cache as listing_cache
    from nobroker import recent

    cache.clear()
    listing_cache._local_localities.clear()
    listing_cache._local_version.clear()
    recent.clear_all()
    yield
    cache.clear()
    listing_cache._local_localities.clear()
    listing_cache._local_version.clear()
    recent.clear_all()


@pytest.fixture(autouse=True)
def _site_language():
    """Each test starts in the site's language: a page fetched in Nepali by the
    test client leaves Nepali active in the thread (LocaleMiddleware does not
    undo it), which the next test would inherit."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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
def context(context):
    """
    Every browser journey runs under the enforced Content-Security-Policy and
    fails on any violation the browser reports in its console. A test that
    provokes one on purpose reads and clears `context.csp_violations`.
    """
    context.csp_violations = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            context.csp_violations.append(message.text)

    context.on("console", on_console)
    yield context
    assert not context.csp_violations, context.csp_violations


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


# --- A live ASGI server (websockets) ---------------------------------------------


class AsgiLiveServer:
    """Daphne serving `nobroker.asgi.application` in its own process."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"

    def __str__(self):
        return self.url


def _database_url_for_child() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _daphne(database_url: str, log: Path | None = None, **extra_env: str):
    """
    Daphne serving the project on a free loopback port, as a child process;
    its output goes to `log` when given.
    """
    from django.conf import settings

    host, port = "127.0.0.1", _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nobroker.settings",
        "DJANGO_TESTING": "1",
        # Same key, so sessions made by the tests are valid in the server.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": "immediate",
        # The websocket origin check wants the pages' own origin.
        "SITE_URL": f"http://{host}:{port}",
        **extra_env,
    }
    output = open(log, "w") if log else None  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).with_name("daphne")),
            "-b",
            host,
            "-p",
            str(port),
            "nobroker.asgi:application",
        ],
        env=env,
        cwd=Path(__file__).resolve().parent,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )
    # Generous: on a busy machine the project takes a while to import.
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=1)  # noqa: S310
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("The ASGI test server did not start.")
            time.sleep(0.1)
    try:
        yield AsgiLiveServer(host, port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
        if output:
            output.close()


@pytest.fixture(scope="session")
def asgi_live_server(django_db_setup, django_db_blocker):
    """
    The whole project (HTTP and websockets) served by daphne on a free loopback
    port, against the test database. Tests that use it must commit their data:
    mark them `@pytest.mark.django_db(transaction=True)`.
    """
    with django_db_blocker.unblock():
        database_url = _database_url_for_child()
    with _daphne(database_url) as server:
        yield server


@pytest.fixture
def asgi_server(django_db_setup, django_db_blocker):
    """
    Starts a daphne process of its own with extra environment variables (a
    small pool, say): `with asgi_server(DATABASE_POOL_MAX="3") as server:`.
    `database_url` replaces the test database (an unreachable one, say);
    `log` is a file for the server's output.
    """

    def start(database_url: str | None = None, log: Path | None = None, **env: str):
        if database_url is None:
            with django_db_blocker.unblock():
                database_url = _database_url_for_child()
        return _daphne(database_url, log, **env)

    return start


@pytest.fixture(scope="session", autouse=True)
def _close_other_sessions_at_the_end(django_db_setup, django_db_blocker):
    """
    Worker threads (async consumers' database calls) and the stopped ASGI server
    may still hold connections to the test database; ending them lets it be
    dropped at the end of the run.
    """
    yield
    with django_db_blocker.unblock():
        _close_other_sessions()


def _close_other_sessions() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fresh_database_pool_after_transactional_tests(request):
    """
    Worker threads of async and threaded tests can end still holding a pooled
    connection, which the pool never gets back: after enough of them it is
    empty and every later test waits for a connection. After a transactional
    test the pool is closed (before the database is flushed) and made anew.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (
        marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback")
    ):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if hasattr(connection, "close_pool") and connection.settings_dict.get(
            "OPTIONS", {}
        ).get("pool"):
            connection.close()
            connection.close_pool()
