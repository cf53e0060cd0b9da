"""Logs: JSON lines with the request's id, user id and view, and no personal data."""

import io
import json
import logging
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from conftest import PASSWORD
from messaging.tests.factories import ConversationFactory
from nobroker import async_db, logs
from nobroker.asgi import application
from nobroker.origins import site_origins


@pytest.fixture
def log_lines():
    """Everything logged during the test, as the production JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def personal_data(user) -> list[str]:
    return [
        user.email,
        user.email.split("@")[0],
        user.full_name,
        user.phone.lstrip("+"),
        PASSWORD,
    ]


@pytest.mark.django_db
def test_a_login_logs_an_access_line_with_the_user_id_and_no_personal_data(
    log_lines,
):
    user = UserFactory(
        full_name="Sita Shrestha", phone="+9779841112233", email="sita.s@example.np"
    )
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    lines = log_lines()
    access = [line for line in lines if line["logger"] == "nobroker.access"]
    assert access, lines
    line = access[-1]
    assert line["view"] == "accounts:login"
    assert line["status"] == 302
    assert line["user_id"] == user.pk
    assert line["method"] == "POST"
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response["X-Request-ID"]
    assert {"time", "level", "logger", "message"} <= set(line)
    text = json.dumps(lines)
    session_key = client.cookies["sessionid"].value
    for secret in [*personal_data(user), session_key]:
        assert secret not in text


@pytest.mark.django_db(transaction=True)
async def test_a_message_send_over_http_and_websocket_logs_no_personal_data(log_lines):
    conversation = await database_sync_to_async(
        ConversationFactory,
    )(
        tenant__full_name="Hari Bahadur Thapa",
        tenant__phone="+9779803334455",
        listing__owner__full_name="Maya Gurung",
    )
    tenant = conversation.tenant
    client = Client()
    await database_sync_to_async(client.force_login)(tenant)
    body = "My number is 9803334455, call me"
    response = await database_sync_to_async(client.post)(
        reverse("messaging:detail", args=[conversation.pk]),
        {"body": body, "client_id": str(uuid.uuid4())},
    )
    assert response.status_code in (200, 302)
    socket = WebsocketCommunicator(
        application,
        f"/ws/messages/{conversation.pk}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", site_origins()[0].encode()),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    assert (await socket.connect())[0]
    await socket.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": body}
    )
    while (await socket.receive_json_from(timeout=5))["type"] != "message":
        pass
    await socket.disconnect()
    await async_db.close_all()

    lines = log_lines()
    sent = [line for line in lines if line.get("view") == "messaging:detail"]
    assert sent and sent[-1]["user_id"] == tenant.pk
    opened = [line for line in lines if line["message"].startswith("websocket opened")]
    closed = [line for line in lines if line["message"].startswith("websocket closed")]
    assert opened and closed
    assert opened[0]["request_id"] == closed[0]["request_id"]
    assert opened[0]["user_id"] == tenant.pk
    text = json.dumps(lines)
    for secret in [*personal_data(tenant), conversation.owner.full_name, body]:
        assert secret not in text


@pytest.mark.django_db
def test_a_trusted_proxys_request_id_is_kept_and_anyone_elses_replaced(
    client, settings
):
    settings.PROXY_COUNT = 0
    spoofed = client.get("/healthz", headers={"X-Request-ID": "abcdefgh-1234"})
    assert spoofed["X-Request-ID"] != "abcdefgh-1234"
    assert len(spoofed["X-Request-ID"]) == 32
    settings.PROXY_COUNT = 1
    kept = client.get("/healthz", headers={"X-Request-ID": "abcdefgh-1234"})
    assert kept["X-Request-ID"] == "abcdefgh-1234"
    odd = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith a newline"})
    assert odd["X-Request-ID"] != "bad id\nwith a newline"


@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_a_queued_task_into_the_worker(
    client, settings, log_lines, mailbox
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    user = UserFactory()
    response = client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert response.status_code == 302
    request_id = response["X-Request-ID"]
    assert not mailbox
    call_command("db_worker", batch=True, interval=0, startup_delay=False)
    assert len(mailbox) == 1
    task_lines = [
        line
        for line in log_lines()
        if line["logger"] == "django.tasks" and "SUCCESSFUL" in line["message"]
    ]
    assert task_lines
    assert task_lines[-1]["request_id"] == request_id
    assert task_lines[-1]["view"] == "accounts.tasks.send_email"
    assert user.email not in json.dumps(log_lines())


def test_an_exception_is_one_json_line_with_its_traceback():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (1,), None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    logs.ContextFilter().filter(record)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed 1"
    assert "ValueError: boom" in parsed["error"]


def test_every_process_logs_json_without_debug(tmp_path):
    """A management command (as the worker is one) writes JSON lines by default."""
    from nobroker.tests.test_settings import run_manage

    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "import logging; logging.getLogger('nobroker.test').warning('hello')",
        DJANGO_SECRET_KEY="x" * 60,
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["level"] == "WARNING"
    console = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "import logging; logging.getLogger('nobroker.test').warning('hello')",
        DJANGO_SECRET_KEY="x" * 60,
        LOCAL_HTTP="1",
    )
    assert "WARNING nobroker.test hello" in console.stderr
