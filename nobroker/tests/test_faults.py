"""
Faults tried for real, each on a throwaway server of its own (never the shared
PostgreSQL or Redis): S3 (moto's server), Redis, and PostgreSQL stopped while
the site is in use. A test whose server binary is missing skips and says which.
"""

import glob
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD, _free_port
from listings.models import ListingPhoto
from listings.tests.factories import ListingFactory, photo_bytes
from nobroker.tests.servers import port_open, start_daphne, wait_for
from nobroker.tests.servers import stop as stop_server

BASE_DIR = Path(__file__).resolve().parents[2]


# --- S3 unreachable ---------------------------------------------------------------


@pytest.fixture
def s3(settings):
    """moto's S3 server on a free loopback port, as the media storage."""
    moto_server = pytest.importorskip(
        "moto.server", reason="moto[server] not installed"
    )
    import boto3

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(
        Bucket="nobroker-media"
    )
    from botocore.config import Config

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "nobroker-media",
                "endpoint_url": endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "file_overwrite": False,
                "client_config": Config(
                    connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}
                ),
            },
        },
    }

    class S3:
        def objects(self):
            client = boto3.client("s3", endpoint_url=endpoint, **credentials)
            listed = client.list_objects_v2(Bucket="nobroker-media")
            return [item["Key"] for item in listed.get("Contents", [])]

        stop = server.stop
        start = server.start

    yield S3()
    server.stop()


def _upload(client, listing):
    return client.post(
        reverse("listings:photos", args=[listing.pk]),
        {"photos": [SimpleUploadedFile("room.jpg", photo_bytes(), "image/jpeg")]},
        follow=True,
    )


@pytest.mark.django_db
def test_s3_unreachable_upload_says_so_quickly_and_leaves_nothing(s3, owner):
    listing = ListingFactory(owner=owner)
    client = Client()
    client.force_login(owner)
    assert "1 photo(s) added" in _upload(client, listing).content.decode()
    kept = s3.objects()
    assert len(kept) == 3  # large, medium, thumb

    s3.stop()
    started = time.monotonic()
    response = _upload(client, listing)
    took = time.monotonic() - started
    assert took < 5, took
    assert response.status_code == 200
    assert "Photo storage is not answering" in response.content.decode()
    assert ListingPhoto.objects.filter(listing=listing).count() == 1
    # The listing's page still renders, its photo as a link that does not need S3.
    assert client.get(listing.get_absolute_url()).status_code == 200

    s3.start()
    assert sorted(s3.objects()) == sorted(kept)


@pytest.mark.django_db
def test_s3_failing_halfway_leaves_no_half_photo(s3, owner, monkeypatch):
    from storages.backends.s3 import S3Storage

    listing = ListingFactory(owner=owner)
    client = Client()
    client.force_login(owner)
    real_save = S3Storage._save
    calls = []

    def save_then_fail(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1")
        return real_save(self, name, content)

    monkeypatch.setattr(S3Storage, "_save", save_then_fail)
    before = s3.objects()  # moto keeps other tests' objects in memory
    response = _upload(client, listing)
    assert "Photo storage is not answering" in response.content.decode()
    assert not ListingPhoto.objects.filter(listing=listing).exists()
    assert len(calls) == 2
    assert s3.objects() == before


# --- Redis stopped ----------------------------------------------------------------


@pytest.fixture
def throwaway_redis(settings):
    """A redis-server of this test's own, as the cache and channel layer."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed (Debian package: redis-server)")
    port = _free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]

    class Redis:
        process = None
        url = f"redis://127.0.0.1:{port}/0"

        def start(self):
            self.process = subprocess.Popen(  # noqa: S603
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            wait_for(lambda: port_open(port), 10, "redis-server start")

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)

    redis = Redis()
    redis.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis.url,
            "KEY_PREFIX": "faults",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "nobroker.channel_layers.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis.url], "prefix": "faults"},
        }
    }
    yield redis
    if redis.process.poll() is None:
        redis.stop()


@pytest.mark.django_db
def test_redis_stopped_pages_answer_logins_hold_and_messages_are_kept(
    throwaway_redis, settings
):
    from messaging.models import Message
    from messaging.tests.factories import ConversationFactory

    conversation = ConversationFactory()
    listing = ListingFactory()
    tenant = Client()
    response = tenant.post(
        reverse("accounts:login"),
        {"username": conversation.tenant.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert tenant.get(reverse("listings:search")).status_code == 200

    throwaway_redis.stop()
    started = time.monotonic()
    for url in (
        reverse("home"),
        reverse("listings:search"),
        listing.get_absolute_url(),
        reverse("messaging:inbox"),
    ):
        response = tenant.get(url)
        assert response.status_code == 200, url
    # Still signed in: the session is read from the database.
    assert response.context["user"] == conversation.tenant
    # A message sent over HTTP is stored; the other side's polling finds it.
    sent = tenant.post(
        reverse("messaging:detail", args=[conversation.pk]),
        {"body": "Is the flat still free?", "client_id": str(uuid.uuid4())},
    )
    assert sent.status_code in (200, 302)
    assert Message.objects.filter(conversation=conversation).count() == 1
    owner = Client()
    owner.force_login(conversation.owner)
    polled = owner.get(
        reverse("messaging:since", args=[conversation.pk, 0]),
        headers={"Accept": "application/json"},
    )
    assert polled.status_code == 200
    assert "Is the flat still free?" in polled.content.decode()
    # Each cache call gives up after half a second: pages stay quick.
    assert time.monotonic() - started < 15


@pytest.mark.django_db(transaction=True)
async def test_real_time_comes_back_by_itself_when_redis_returns(throwaway_redis):
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("conversation_1", channel)
    await layer.group_send("conversation_1", {"type": "message.new", "n": 1})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1

    throwaway_redis.stop()
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the client raises
        await asyncio.wait_for(
            layer.group_send("conversation_1", {"type": "message.new", "n": 2}), 5
        )
    throwaway_redis.start()

    async def delivered():
        receiver = asyncio.ensure_future(layer.receive(channel))
        for _ in range(50):
            try:
                await layer.group_send(
                    "conversation_1", {"type": "message.new", "n": 3}
                )
            except Exception:  # noqa: S112 - reconnecting
                await asyncio.sleep(0.2)
                continue
            done, _ = await asyncio.wait({receiver}, timeout=0.2)
            if done:
                return receiver.result()
        receiver.cancel()
        return None

    message = await delivered()
    assert message is not None and message["n"] == 3
    await layer.flush()


# --- PostgreSQL restarted ---------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def throwaway_postgres():
    """A PostgreSQL cluster of this module's own, migrated, served by daphne."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    # Not under pytest's own folder, which only root may enter.
    data = Path(tempfile.mkdtemp(prefix="nb-faults-pg-"))
    port = _free_port()
    run_as = []
    if hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0:
        # initdb refuses to run as root: the cluster belongs to `postgres`.
        shutil.chown(data, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "root",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "30"]
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start():
        subprocess.run(
            [*ctl, "-o", options, "-l", str(data / "log"), "start"],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop():
        subprocess.run(
            [*ctl, "-m", "fast", "stop"], check=True, capture_output=True, timeout=60
        )

    start()
    url = f"postgres://root@127.0.0.1:{port}/postgres"
    env = {
        **__import__("os").environ,
        "DATABASE_URL": url,
        "DJANGO_TESTING": "1",
        "DJANGO_SECRET_KEY": "faults-test-key",
        "TASKS_BACKEND": "immediate",
        "DATABASE_POOL_TIMEOUT": "2",
    }
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=600,
    )
    daphne, web = start_daphne(env)

    class Postgres:
        pass

    Postgres.web = web
    Postgres.start = staticmethod(start)
    Postgres.stop = staticmethod(stop)
    yield Postgres
    stop_server(daphne)
    subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60)
    shutil.rmtree(data, ignore_errors=True)


def _fetch(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_postgresql_restarted_pages_say_503_then_recover(throwaway_postgres):
    # A search not asked before, so the answer cannot come from the cache.
    status, _, _ = _fetch(throwaway_postgres.web + "/rent/?rent_max=10000")
    assert status == 200

    throwaway_postgres.stop()
    started = time.monotonic()
    status, headers, body = _fetch(throwaway_postgres.web + "/rent/?rent_max=20000")
    assert status == 503
    assert headers.get("Retry-After") == "30"
    assert "We can’t reach our listings right now" in body
    assert time.monotonic() - started < 10

    throwaway_postgres.start()
    # The first request after it is back: no dead pooled connection handed out.
    status, _, body = _fetch(throwaway_postgres.web + "/rent/?rent_max=30000")
    assert status == 200, body[:500]
