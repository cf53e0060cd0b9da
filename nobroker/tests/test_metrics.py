"""/metrics: who may scrape it, and the numbers move with real requests."""

import os
import urllib.request
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from conftest import _database_url_for_child
from listings.tests.factories import ListingFactory
from messaging.tests.factories import ConversationFactory
from nobroker import async_db
from nobroker.asgi import application
from nobroker.origins import site_origins
from nobroker.tests.servers import start_daphne, stop

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-scrape-token"


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]


def scrape(client=None) -> dict[tuple, float]:
    """Every sample of one scrape, keyed by (name, sorted labels)."""
    client = client or Client()
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found[(sample.name, labels)] = sample.value
    return found


def total(found: dict, name: str, **labels) -> float:
    return sum(
        value
        for (sample, sample_labels), value in found.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


@pytest.mark.django_db
def test_metrics_answer_only_the_token_or_the_allowed_networks(client):
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert right["Content-Type"].startswith("text/plain")
    assert Client(REMOTE_ADDR="10.1.4.5").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.4.5").get("/metrics").status_code == 404


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_does_not_open_the_metrics(settings):
    settings.PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="192.0.2.1")
    spoofed = proxy.get("/metrics", headers={"X-Forwarded-For": "10.1.0.9, 192.0.2.77"})
    assert spoofed.status_code == 404
    inside = proxy.get("/metrics", headers={"X-Forwarded-For": "10.1.0.9"})
    assert inside.status_code == 200


@pytest.mark.django_db
def test_no_token_and_no_networks_means_nobody(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    )


@pytest.mark.django_db
def test_requests_latency_queries_and_errors_move(client, tenant):
    before = scrape()
    ListingFactory()
    client.force_login(tenant)
    for _ in range(3):
        assert client.get(reverse("listings:search")).status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape()

    name = "nobroker_http_request_duration_seconds_count"
    search = {"view": "listings:search", "method": "GET", "status": "200"}
    assert total(after, name, **search) - total(before, name, **search) == 3
    assert total(after, name, status="404") - total(before, name, status="404") == 1
    le = "nobroker_http_request_duration_seconds_bucket"
    assert total(after, le, view="listings:search", le="+Inf") >= 3
    queries = "nobroker_http_request_queries_sum"
    assert total(after, queries, view="listings:search") > total(
        before, queries, view="listings:search"
    )
    # A scrape is not counted as traffic.
    assert total(after, name, view="metrics") == 0


@pytest.mark.django_db
def test_a_request_whose_error_page_fails_too_is_counted_as_a_500(rf):
    from nobroker.metrics import MetricsMiddleware

    def broken(request):
        raise RuntimeError("the error page's stylesheet is missing")

    before = scrape()
    with pytest.raises(RuntimeError):
        MetricsMiddleware(broken)(rf.get("/rent/"))
    after = scrape()
    name = "nobroker_http_request_duration_seconds_count"
    assert total(after, name, status="500") - total(before, name, status="500") == 1


@pytest.mark.django_db
def test_cache_hits_and_misses_are_counted_by_use(client, tenant):
    listing = ListingFactory()
    before = scrape()
    client.force_login(tenant)
    for _ in range(2):
        client.get(reverse("listings:search"))
        client.get(listing.get_absolute_url())
    after = scrape()

    def moved(use, result):
        name = "nobroker_cache_requests_total"
        return total(after, name, use=use, result=result) - total(
            before, name, use=use, result=result
        )

    for use in ("search", "listing_page"):
        assert moved(use, "miss") == 1, use
        assert moved(use, "hit") == 1, use
    assert moved("cards", "miss") >= 1
    assert moved("cards", "hit") >= 1
    assert moved("sessions", "hit") + moved("sessions", "miss") >= 4


@pytest.mark.django_db
def test_pool_figures_are_reported_on_postgresql(client):
    if connection.vendor != "postgresql" or not connection.settings_dict["OPTIONS"].get(
        "pool"
    ):
        pytest.skip("The connection pool exists on PostgreSQL only.")
    client.get(reverse("listings:search"))
    found = scrape()
    assert (
        total(found, "nobroker_db_pool_max", pool="django")
        == (connection.settings_dict["OPTIONS"]["pool"]["max_size"])
    )
    assert total(found, "nobroker_db_pool_size", pool="django") >= 1
    assert ("nobroker_db_pool_waiting", (("pool", "django"),)) in found


@pytest.mark.django_db(transaction=True)
def test_task_queue_depth_and_oldest_age_come_from_the_queue(settings):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from accounts.tasks import send_email

    send_email.enqueue(to=["someone@example.np"], subject="Hello", body="Hi")
    DBTaskResult.objects.update(
        enqueued_at=timezone.now() - timezone.timedelta(minutes=7)
    )
    found = scrape()
    assert total(found, "nobroker_tasks_waiting") == 1
    assert 7 * 60 <= total(found, "nobroker_tasks_oldest_waiting_seconds") < 8 * 60


@pytest.mark.django_db(transaction=True)
async def test_open_websockets_and_messages_sent_move():
    conversation = await database_sync_to_async(ConversationFactory)()
    client = Client()
    await database_sync_to_async(client.force_login)(conversation.tenant)
    before = await database_sync_to_async(scrape)()
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
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Namaste"}
    )
    while (await socket.receive_json_from(timeout=5))["type"] != "message":
        pass
    during = await database_sync_to_async(scrape)()
    await socket.disconnect()
    after = await database_sync_to_async(scrape)()
    await async_db.close_all()

    assert total(during, "nobroker_websockets_open") == (
        total(before, "nobroker_websockets_open") + 1
    )
    assert total(after, "nobroker_websockets_open") == total(
        before, "nobroker_websockets_open"
    )
    assert total(during, "nobroker_messages_total") > total(
        before, "nobroker_messages_total"
    )


# --- Several processes ------------------------------------------------------------


def _get(url: str, **headers) -> bytes:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read()


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_are_counted_together(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR a scrape of either process counts both."""
    database_url = _database_url_for_child()
    env = {
        **os.environ,
        "DJANGO_TESTING": "1",
        "DJANGO_SECRET_KEY": "metrics-test-key",
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": "immediate",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "METRICS_TOKEN": TOKEN,
    }
    servers = [start_daphne(env) for _ in range(2)]
    urls = [url for _, url in servers]
    try:
        for url, count in zip(urls, (2, 3), strict=True):
            for _ in range(count):
                _get(f"{url}/healthz")
        counts = [
            total(
                samples(
                    _get(f"{url}/metrics", Authorization=f"Bearer {TOKEN}").decode()
                ),
                "nobroker_http_request_duration_seconds_count",
                view="healthz",
            )
            for url in urls
        ]
        # Five requests, two to one process and three to the other: either
        # process's scrape counts all five.
        assert counts == [5, 5]
    finally:
        for process, _ in servers:
            stop(process)
