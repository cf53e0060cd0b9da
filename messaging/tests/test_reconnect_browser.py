"""
daphne stopped with sockets open: the chat page reconnects by itself to the new
process on the same port and back-fills what it missed, once each, in order.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from conftest import _database_url_for_child
from messaging import services
from messaging.tests.factories import ListingFactory
from messaging.tests.test_browser import logged_in_page


def _send(conversation, sender, body):
    """From a thread of its own: Playwright holds this thread's event loop."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run():
        try:
            services.message_send(
                conversation=conversation,
                sender=sender,
                client_id=uuid.uuid4(),
                body=body,
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]


def _port() -> int:
    for port in range(9400, 9500):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port")


class Daphne:
    def __init__(self, port, env):
        self.port, self.env, self.process = port, env, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(Path(sys.executable).with_name("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "nobroker.asgi:application",
            ],
            cwd=BASE_DIR,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)  # noqa: S310
                return
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, (
                    "daphne did not start"
                )
                time.sleep(0.1)

    def stop(self, sig):
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def daphne(settings):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and the Redis channel layer")
    port = _port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nobroker.settings",
        "DJANGO_TESTING": "1",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": _database_url_for_child(),
        "TASKS_BACKEND": "immediate",
        "SITE_URL": f"http://127.0.0.1:{port}",
    }
    server = Daphne(port, env)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop(signal.SIGTERM)


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"]
)
def test_chat_reconnects_to_a_new_daphne_and_backfills_once_in_order(
    browser, browser_context_args, daphne, tenant, owner, sig
):
    listing = ListingFactory(owner=owner, title="Flat by the river")
    conversation = services.conversation_start(listing=listing, tenant=tenant)
    _send(conversation, tenant, "Hello 0")
    page = logged_in_page(browser, browser_context_args, daphne, tenant)
    page.goto(daphne.url + conversation.get_absolute_url())
    expect(page.locator("[data-chat][data-live]")).to_be_attached()

    daphne.stop(sig)
    expect(page.locator("[data-chat][data-live]")).not_to_be_attached()
    # Written meanwhile by the owner, through another process.
    for n in range(1, 4):
        _send(conversation, owner, f"Missed {n}")
    daphne.start()
    expect(page.locator("[data-chat][data-live]")).to_be_attached(timeout=45_000)
    # And live again on the new process.
    _send(conversation, owner, "Live 4")
    expect(page.get_by_text("Live 4")).to_be_visible()
    bodies = page.locator(".msg[data-id]").all_inner_texts()
    wanted = ["Hello 0", "Missed 1", "Missed 2", "Missed 3", "Live 4"]
    found = [next((w for w in wanted if w in text), None) for text in bodies]
    assert [f for f in found if f] == wanted, bodies
