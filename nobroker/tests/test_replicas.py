"""
Read replicas against a real streaming replica: a throwaway primary made with
initdb and a replica made from it with pg_basebackup, both on loopback, with the
site served by daphne in front of them.

What the tests prove by what a person sees: the profile they just saved shows
at once (reads pinned to the primary), a page read later comes from the replica
(stale while its replay is paused), a replica lagging past the limit or stopped
mid-use is left for the primary, and the pages keep answering.
"""

import json
import shutil
import subprocess
import time
import uuid

import pytest
from django.db import transaction

from nobroker import replicas
from nobroker.tests.processes import (
    Cluster,
    Server,
    Visitor,
    manage,
    scratch_folder,
    site_environment,
)
from nobroker.tests.test_settings import run_python

PASSWORD = "a-Strong-pass-2026"
PIN_SECONDS = 2
MAX_LAG = 6


@pytest.fixture(scope="module")
def pair():
    root = scratch_folder()
    primary = Cluster.primary(root / "primary")
    replica = None
    try:
        primary.sql("CREATE DATABASE site")
        replica = primary.replica(root / "replica")
        yield primary, replica
    finally:
        if replica:
            replica.remove()
        primary.remove()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def site(pair, tmp_path_factory):
    primary, replica = pair
    env = site_environment(
        DATABASE_URL=primary.url("site"),
        DATABASE_REPLICA_URLS=replica.url("site"),
        DATABASE_REPLICA_PIN_SECONDS=str(PIN_SECONDS),
        DATABASE_REPLICA_MAX_LAG=str(MAX_LAG),
        DATABASE_REPLICA_CHECK_SECONDS="0.2",
    )
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage(
        "shell",
        "-c",
        "from accounts.models import User; "
        f"User.objects.create_user(email='reader@example.np', password='{PASSWORD}',"
        " full_name='First Name', role='tenant', email_verified=True)",
        env=env,
    )
    server = Server.daphne(env, tmp_path_factory.mktemp("logs") / "daphne.log")
    yield server
    server.stop()


def _caught_up(primary: Cluster, replica: Cluster) -> None:
    """Commits a transaction on the primary and waits until the replica replayed it."""
    marker = uuid.uuid4().hex
    insert = f"INSERT INTO replay_marker VALUES ('{marker}')"  # noqa: S608 (a uuid)
    primary.sql(
        f"CREATE TABLE IF NOT EXISTS replay_marker (value text); {insert}", "site"
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            replayed = replica.sql(
                f"SELECT count(*) FROM replay_marker WHERE value = '{marker}'",  # noqa: S608
                "site",
            )
        except subprocess.CalledProcessError:
            replayed = ""  # the table itself is not replayed yet
        if replayed == "1":
            return
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.1)


def _profile_name(visitor: Visitor) -> str:
    status, page = visitor.get("/accounts/profile/")
    assert status == 200, page[-2000:]
    for name in ("First Name", "Second Name", "Third Name"):
        if f'value="{name}"' in page:
            return name
    raise AssertionError("no known name on the profile page")


def _save_name(visitor: Visitor, name: str) -> str:
    status, page = visitor.post(
        "/accounts/profile/",
        {
            "full_name": name,
            "email": "reader@example.np",
            "phone": "",
            "role": "tenant",
        },
    )
    assert status == 200 and "Your profile is saved" in page, page[-2000:]
    return page


@pytest.mark.django_db
def test_reads_follow_the_replica_and_writers_see_their_own_save(pair, site):
    primary, replica = pair
    visitor = Visitor(site.url)
    visitor.log_in("reader@example.np", PASSWORD)
    time.sleep(PIN_SECONDS + 0.5)  # the login's pin is over
    _caught_up(primary, replica)
    replica.sql("SELECT pg_wal_replay_pause()")
    paused = time.monotonic()
    try:
        page = _save_name(visitor, "Second Name")
        # Right after saving, the page after the redirect shows the new name,
        # though the replica has not replayed it.
        assert 'value="Second Name"' in page
        assert _profile_name(visitor) == "Second Name"
        assert (
            replica.sql(
                "SELECT full_name FROM accounts_user WHERE email='reader@example.np'",
                "site",
            )
            == "First Name"
        )

        # Once the pin is over, reads come from the replica, which is behind.
        time.sleep(PIN_SECONDS + 0.5)
        assert time.monotonic() - paused < MAX_LAG
        assert _profile_name(visitor) == "First Name"

        # Further behind than the limit, the replica is left for the primary.
        time.sleep(max(0, MAX_LAG + 1 - (time.monotonic() - paused)))
        assert _profile_name(visitor) == "Second Name"
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")
    _caught_up(primary, replica)


@pytest.mark.django_db
def test_a_replica_stopped_mid_use_leaves_the_pages_on_the_primary(pair, site):
    primary, replica = pair
    visitor = Visitor(site.url)
    visitor.log_in("reader@example.np", PASSWORD)
    _save_name(visitor, "Third Name")
    _caught_up(primary, replica)
    time.sleep(PIN_SECONDS + 0.5)
    assert _profile_name(visitor) == "Third Name"

    replica.stop("immediate")
    try:
        # Every page answers, the first one included: the read that fails on the
        # replica is served again from the primary.
        for _ in range(5):
            started = time.monotonic()
            assert _profile_name(visitor) == "Third Name"
            assert time.monotonic() - started < 5
            status, _page = visitor.get("/rent/")
            assert status == 200
    finally:
        replica.start()
    _caught_up(primary, replica)
    assert _profile_name(visitor) == "Third Name"
    assert "replica_1 unavailable" in site.log.read_text() or (
        "served from the primary" in site.log.read_text()
    )


# --- The router's rules, in-process ------------------------------------------


@pytest.fixture
def one_replica(settings):
    """A replica that passed its check, and a request under way."""
    settings.DATABASE_REPLICAS = ["replica_1"]
    replicas.reset_health()
    replicas._health["replica_1"] = replicas.Health(
        checked_at=time.monotonic() + 3600, usable=True
    )
    state = replicas.RequestState()
    token = replicas._request.set(state)
    yield state
    replicas._request.reset(token)
    replicas.reset_health()


def test_a_request_reads_from_a_healthy_replica(one_replica):
    router = replicas.ReplicaRouter()
    assert router.db_for_read(None) == "replica_1"
    assert one_replica.used == {"replica_1"}


def test_reads_outside_a_request_stay_on_the_primary(one_replica):
    replicas._request.set(None)
    assert replicas.ReplicaRouter().db_for_read(None) == "default"


@pytest.mark.django_db
def test_transactions_and_select_for_update_read_from_the_primary(one_replica, tenant):
    from accounts.models import User

    router = replicas.ReplicaRouter()
    with transaction.atomic():
        assert router.db_for_read(None) == "default"
        locked = User.objects.select_for_update().get(pk=tenant.pk)
        assert locked._state.db == "default"


def test_after_a_write_the_request_reads_from_the_primary(one_replica):
    router = replicas.ReplicaRouter()
    assert router.db_for_write(None) == "default"
    assert router.db_for_read(None) == "default"


def test_an_unusable_replica_is_not_read_from(one_replica):
    replicas.replica_mark_down("replica_1")
    assert replicas.ReplicaRouter().db_for_read(None) == "default"


@pytest.mark.django_db
def test_the_middleware_pins_a_person_who_wrote(client, tenant, settings):
    settings.MIDDLEWARE = [
        "nobroker.replicas.ReplicaMiddleware",
        *settings.MIDDLEWARE,
    ]
    settings.DATABASE_REPLICA_PIN_SECONDS = 7
    response = client.get("/healthz")
    assert replicas.PIN_COOKIE not in response.cookies
    client.force_login(tenant)
    response = client.post("/accounts/profile/", {})
    cookie = response.cookies[replicas.PIN_COOKIE]
    assert cookie["max-age"] == 7
    assert cookie["httponly"]


def test_replica_urls_become_aliases_routed_by_the_router():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DATABASE_REPLICAS, s.DATABASES['replica_2']['HOST'], "
        "s.DATABASES['replica_1']['OPTIONS']['pool']['timeout'], "
        "s.DATABASES['replica_1']['TEST']['MIRROR'], s.DATABASE_ROUTERS, s.MIDDLEWARE[1]]))"
    )
    result = run_python(
        code,
        DJANGO_SETTINGS_MODULE="nobroker.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://root@127.0.0.1:5432/site",
        DATABASE_REPLICA_URLS=(
            "postgres://root@10.0.0.2:5432/site, postgres://root@10.0.0.3:5432/site"
        ),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        ["replica_1", "replica_2"],
        "10.0.0.3",
        1,
        "default",
        ["nobroker.replicas.ReplicaRouter"],
        "nobroker.replicas.ReplicaMiddleware",
    ]
