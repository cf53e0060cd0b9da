"""
The production layout brought up on loopback (deploy/layout.py): Debian's nginx
with TLS and HTTP/2 in front of gunicorn page processes and two daphne
websocket processes, against the test database. Requests, graceful restarts
and a browser journey go through nginx.
"""

import asyncio
import concurrent.futures
import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from conftest import _database_url_for_child
from deploy.layout import Layout, render
from messaging.models import Conversation
from messaging.tests.factories import ListingFactory
from nobroker.tests.processes import free_ports, manage, scratch_folder

pytestmark = pytest.mark.django_db(transaction=True)


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _get(url: str, headers: dict | None = None, data: bytes | None = None):
    request = urllib.request.Request(url, headers=headers or {}, data=data)  # noqa: S310
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=_tls()), _NoRedirect()
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def layout(django_db_setup, django_db_blocker):
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    with django_db_blocker.unblock():
        database_url = _database_url_for_child()
    root = scratch_folder()
    root.chmod(0o755)  # nginx's workers read the static files in it
    ports = free_ports(5)
    https = ports[0]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PYTEST"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="nobroker.settings",
        # The tests' key, so the sessions they make are valid in the layout.
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS=f"https://127.0.0.1:{https}",
        DATABASE_URL=database_url,
        TASKS_BACKEND="immediate",
    )
    # Two websocket processes share chat events through Redis; the in-memory
    # layer of the embedded default reaches one process only.
    websockets = 2 if env.get("REDIS_URL") else 1
    with Layout(
        root=root, env=env, ports=ports, workers=2, websockets=websockets
    ) as running:
        yield running
    shutil.rmtree(root, ignore_errors=True)


def test_pages_answer_over_https_and_http2_and_plain_http_redirects(layout):
    version = subprocess.run(
        ["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}"]  # noqa: S607
        + [f"{layout.url}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version == "2"
    status, headers, body = _get(f"{layout.url}/")
    assert status == 200 and b"No broker, no commission" in body
    # Secure cookies and no redirect loop: the app knows the request was HTTPS.
    assert "Strict-Transport-Security" in headers

    status, headers, _ = _get(f"http://127.0.0.1:{layout.http_port}/rent/?page=2")
    assert status == 301
    assert headers["Location"] == "https://127.0.0.1/rent/?page=2"
    # The load balancer's probes answer on plain HTTP too.
    assert _get(f"http://127.0.0.1:{layout.http_port}/healthz")[0] == 200
    assert _get(f"{layout.url}/readyz")[0] == 200


def test_static_files_are_served_by_nginx_compressed_and_cached_for_a_year(layout):
    manifest = json.loads(
        (Path(layout.env["STATIC_ROOT"]) / "staticfiles.json").read_text()
    )
    hashed = manifest["paths"]["css/base.css"]
    status, headers, body = _get(
        f"{layout.url}/static/{hashed}", {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Server"].startswith("nginx")
    # An unhashed name may change content: cached briefly only.
    _, headers, _ = _get(f"{layout.url}/static/css/base.css")
    assert headers["Cache-Control"] == "public, max-age=3600"


def test_media_is_served_by_nginx_with_a_long_lifetime(layout):
    photo = Path(layout.env["MEDIA_ROOT"]) / "listings" / "abc123.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"\xff\xd8 photo")
    photo.parent.chmod(0o755)
    photo.chmod(0o644)
    status, headers, body = _get(f"{layout.url}/media/listings/abc123.jpg")
    assert status == 200 and body == b"\xff\xd8 photo"
    assert "immutable" in headers["Cache-Control"]


def test_a_request_larger_than_a_photo_is_refused_by_nginx(layout):
    status, _, _ = _get(
        f"{layout.url}/listings/new/",
        {"Content-Type": "application/octet-stream"},
        data=b"x" * (13 * 1024 * 1024),
    )
    assert status == 413


def test_a_graceful_page_restart_finishes_every_request(layout):
    def fetch(_):
        return _get(f"{layout.url}/rent/")[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = [pool.submit(fetch, i) for i in range(40)]
        layout.reload_pages()
        statuses = [f.result() for f in first] + list(pool.map(fetch, range(40)))
    assert statuses == [200] * 80


def test_websockets_go_through_nginx_and_a_restart_closes_them_to_reconnect(layout):
    import websockets

    async def journey():
        url = f"wss://127.0.0.1:{layout.https_port}/ws/ping/"
        origin = f"https://127.0.0.1:{layout.https_port}"
        sockets = [
            await websockets.connect(url, ssl=_tls(), origin=origin) for _ in range(4)
        ]
        for socket in sockets:
            await socket.send('{"type": "ping"}')
            assert json.loads(await socket.recv()) == {"type": "pong"}
        # A deploy stops one websocket process: its sockets close, with a code
        # the chat page reconnects on (anything but 4401 and 4403).
        loop = asyncio.get_running_loop()
        stopped = layout.websocket_ports[0]
        await loop.run_in_executor(None, layout.stop_websockets, stopped)
        closed = []
        for socket in sockets:
            try:
                await asyncio.wait_for(socket.recv(), timeout=10)
            except websockets.ConnectionClosed as closing:
                closed.append(closing.rcvd.code if closing.rcvd else 1006)
            except TimeoutError:
                pass  # on the other process, still open
        assert closed, "no socket was on the stopped process"
        assert not {4401, 4403} & set(closed)
        if len(layout.websocket_ports) == 1:
            await loop.run_in_executor(None, layout.start_websockets, stopped)
        # Reconnecting reaches a running process.
        again = await websockets.connect(url, ssl=_tls(), origin=origin)
        await again.send('{"type": "ping"}')
        assert json.loads(await again.recv()) == {"type": "pong"}
        for socket in [*sockets, again]:
            await socket.close()
        if stopped not in [int(n.split("-")[1]) for n in layout.processes if "-" in n]:
            await loop.run_in_executor(None, layout.start_websockets, stopped)

    asyncio.run(journey())


def test_the_rendered_config_is_valid_for_nginx(layout, tmp_path):
    tls = layout.root / "tls"
    config = render(
        {
            "NB_PAGE_SERVERS": "10.0.0.5:8001 10.0.0.6:8001",
            "NB_TLS_CERTIFICATE": str(tls / "cert.pem"),
            "NB_TLS_CERTIFICATE_KEY": str(tls / "key.pem"),
        }
    )
    assert "${NB_" not in config
    assert "server 10.0.0.6:8001 max_fails=2 fail_timeout=5s;" in config
    nginx_conf = tmp_path / "nginx.conf"
    nginx_conf.write_text(
        f"error_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types;\n{config}}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(nginx_conf)],  # noqa: S607
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.browser
def test_tenant_and_owner_chat_live_through_nginx(
    layout, browser, browser_context_args, tenant, owner
):
    listing = ListingFactory(owner=owner, title="Sunny flat in Sanepa")

    def page_for(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(**browser_context_args, ignore_https_errors=True)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": layout.url,
                    "secure": True,
                }
            ]
        )
        return context.new_page()

    tenant_page, owner_page = page_for(tenant), page_for(owner)
    tenant_page.goto(f"{layout.url}/messages/start/{listing.pk}/")
    tenant_page.get_by_role("button", name="Message owner").click()
    tenant_page.get_by_label("Your message").fill("Namaste! Is the flat free in Magh?")
    tenant_page.get_by_role("button", name="Send").click()
    # Stored: a message waiting for the server's answer has an empty data-id.
    expect(tenant_page.locator(".msg--mine[data-id]:not([data-id=''])")).to_have_count(
        1
    )
    conversation = Conversation.objects.get()

    owner_page.goto(f"{layout.url}{conversation.get_absolute_url()}")
    expect(owner_page.get_by_text("Is the flat free in Magh?")).to_be_visible()
    expect(owner_page.locator("[data-chat][data-live]")).to_be_attached()
    expect(tenant_page.locator("[data-chat][data-live]")).to_be_attached()
    owner_page.get_by_label("Your message").fill("Yes, from the first of Magh.")
    owner_page.get_by_role("button", name="Send").click()
    # Arrives live over the websocket, through nginx.
    expect(tenant_page.get_by_text("Yes, from the first of Magh.")).to_be_visible()
    assert conversation.messages.count() == 2


def _locust(layout, tmp_path, host: str, accounts: list[str]):
    from listings.models import Listing

    data = {
        "accounts": accounts,
        "password": LOADKIT_PASSWORD,
        "localities": [ListingFactory().locality.slug],
        "listings": [listing.get_absolute_url() for listing in Listing.objects.all()],
    }
    (tmp_path / "loadkit.json").write_text(json.dumps(data))
    return subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("locust")), "-f", "bench/locustfile.py"]
        + ["--headless", "-u", "3", "-r", "3", "--run-time", "20s", "--host", host]
        + ["--csv", str(tmp_path / "kit"), "--only-summary", "--stop-timeout", "5"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "LOADKIT_DATA": str(tmp_path / "loadkit.json"),
            "LOADKIT_WAIT_MIN": "0.05",
            "LOADKIT_WAIT_MAX": "0.2",
            "LOADKIT_SIGNED_IN": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


LOADKIT_PASSWORD = "loadkit-Password-2026"


def test_the_load_kit_runs_its_mix_through_the_layout_without_failures(
    layout, tmp_path, owner
):
    if not shutil.which("locust", path=str(Path(sys.executable).parent)):
        pytest.skip("locust is not installed (requirements-dev.txt)")
    ListingFactory.create_batch(3, owner=owner)
    # Made by the layout's own settings, so its password hasher checks it.
    manage(
        "shell",
        "-c",
        "from accounts.models import User; "
        "User.objects.create_user(email='kit@loadkit.example', "
        f"password='{LOADKIT_PASSWORD}', full_name='Load Kit', role='tenant', "
        "email_verified=True)",
        env=layout.env,
    )
    result = _locust(layout, tmp_path, layout.url, ["kit@loadkit.example"])
    rows = {
        row.split(",")[1].strip('"'): row.split(",")
        for row in (tmp_path / "kit_stats.csv").read_text().splitlines()[1:]
    }
    # Each person signs in first, then browses, reads listings and acts.
    assert "/accounts/login/ (POST)" in rows
    assert set(rows) - {"/accounts/login/", "/accounts/login/ (POST)", "Aggregated"}
    total = rows["Aggregated"]
    assert int(total[2]) >= 3, result.stderr[-2000:]
    assert int(total[3]) == 0, (tmp_path / "kit_failures.csv").read_text()


def test_the_load_kit_refuses_a_host_that_is_not_loopback(layout, tmp_path):
    if not shutil.which("locust", path=str(Path(sys.executable).parent)):
        pytest.skip("locust is not installed (requirements-dev.txt)")
    result = _locust(layout, tmp_path, "https://nobroker.example.com", [])
    assert result.returncode != 0
    assert "loopback only" in result.stdout + result.stderr


def _search_counts(addresses: list[str]) -> dict[str, int]:
    """What the search page's rate limit counted per address this minute and
    the last (its counters are keyed by a hash of the address)."""
    import time

    from django.core.cache import cache

    from nobroker.ratelimits import _hashed

    window = int(time.time() // 60)
    counts = {}
    for address in addresses:
        keys = [
            f"rl:listings:search:address:60:{_hashed(address)}:{w}"
            for w in (window - 1, window)
        ]
        counts[address] = sum(cache.get_many(keys).values())
    return counts


def _get_from(source: str, port: int, path: str, headers: dict) -> int:
    import http.client

    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=_tls(), timeout=30, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_client_address_reaches_the_app_and_a_spoofed_one_changes_nothing(
    layout,
):
    if not layout.env.get("REDIS_URL"):
        pytest.skip("the layout's processes share rate-limit counters through Redis")
    assert layout.env["PROXY_COUNT"] == "1"
    # Two clients on other loopback addresses than nginx's own (127.0.0.1);
    # the first claims to be someone else, a new someone on each request.
    spoofed = ["203.0.113.7", "198.51.100.23, 203.0.113.8", "127.0.0.6"]
    watched = ["127.0.0.5", "127.0.0.6", "127.0.0.1", "203.0.113.7", "203.0.113.8"]
    before = _search_counts(watched)
    for value in spoofed:
        status = _get_from(
            "127.0.0.5", layout.https_port, "/rent/", {"X-Forwarded-For": value}
        )
        assert status == 200
    assert _get_from("127.0.0.6", layout.https_port, "/rent/", {}) == 200
    after = _search_counts(watched)
    counted = {address: after[address] - before[address] for address in watched}
    assert counted == {
        "127.0.0.5": 3,
        "127.0.0.6": 1,
        "127.0.0.1": 0,
        "203.0.113.7": 0,
        "203.0.113.8": 0,
    }
