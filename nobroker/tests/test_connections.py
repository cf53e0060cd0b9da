"""The connection budget check, and the site behind PgBouncer in transaction mode."""

import shutil

import pytest
from django.core.management import CommandError, call_command

from nobroker import async_db
from nobroker.tests.processes import (
    Cluster,
    PgBouncer,
    Server,
    Visitor,
    manage,
    scratch_folder,
    site_environment,
)

PASSWORD = "a-Strong-pass-2026"


def test_the_budget_adds_up_every_process_and_passes_under_80_percent(capsys):
    call_command(
        "db_connection_budget",
        "--machines=2",
        "--page-processes=4",
        "--page-pool=2",
        "--websocket-processes=1",
        "--websocket-pool=4",
        "--workers=1",
        "--worker-pool=2",
        "--commands=2",
        "--max-connections=100",
    )
    out = capsys.readouterr().out
    # The chat's hot path keeps 4 of its own per websocket process on PostgreSQL.
    chat = 4 if async_db.enabled() else 0
    needed = 2 * (4 * 2 + 1 * (4 + chat) + 1 * 2 + 2)
    assert f"= {needed} connections" in out
    assert f"default: {needed} of 80 allowed" in out and ": ok" in out


def test_the_budget_fails_when_the_pools_pass_80_percent():
    with pytest.raises(CommandError, match="more than 80%"):
        call_command(
            "db_connection_budget",
            "--machines=3",
            "--page-processes=4",
            "--page-pool=10",
            "--max-connections=100",
        )


@pytest.mark.django_db
def test_the_budget_asks_postgresql_for_its_limit(capsys, settings):
    if not settings.IS_POSTGRES:
        pytest.skip("max_connections is PostgreSQL's")
    call_command("db_connection_budget", "--page-pool=1", "--websocket-pool=1")
    assert "usable connections): ok" in capsys.readouterr().out


@pytest.fixture(scope="module")
def bouncer():
    root = scratch_folder()
    cluster = Cluster.primary(root / "primary")
    pgbouncer = None
    try:
        cluster.sql("CREATE DATABASE site")
        manage(
            "migrate",
            "--noinput",
            "-v",
            "0",
            env=site_environment(DATABASE_URL=cluster.url("site")),
        )
        pgbouncer = PgBouncer(root / "pgbouncer", cluster)
        yield cluster, pgbouncer
    finally:
        if pgbouncer:
            pgbouncer.stop()
        cluster.remove()
        shutil.rmtree(root, ignore_errors=True)


def test_without_the_switch_pgbouncer_refuses_the_connection(bouncer):
    _cluster, pgbouncer = bouncer
    env = site_environment(
        DATABASE_URL=pgbouncer.url("site"), DATABASE_STATEMENT_TIMEOUT="15000"
    )
    with pytest.raises(AssertionError, match="unsupported startup parameter"):
        manage(
            "shell",
            "-c",
            "from accounts.models import User; User.objects.count()",
            env=env,
        )


def test_the_site_works_through_pgbouncer_in_transaction_mode(bouncer, tmp_path):
    cluster, pgbouncer = bouncer
    env = site_environment(
        DATABASE_URL=pgbouncer.url("site"),
        DATABASE_PGBOUNCER="1",
        DATABASE_STATEMENT_TIMEOUT="15000",
    )
    manage(
        "shell",
        "-c",
        "from accounts.models import User; "
        f"User.objects.create_user(email='bounced@example.np', password='{PASSWORD}',"
        " full_name='Through The Pooler', role='tenant', email_verified=True)",
        env=env,
    )
    server = Server.daphne(env, tmp_path / "daphne.log")
    try:
        visitor = Visitor(server.url)
        visitor.log_in("bounced@example.np", PASSWORD)
        # More than psycopg's prepare threshold (5) of the same statements: a
        # prepared statement would fail on another server connection.
        for number in range(8):
            status, page = visitor.post(
                "/accounts/profile/",
                {
                    "full_name": f"Name {number}",
                    "email": "bounced@example.np",
                    "phone": "",
                    "role": "tenant",
                },
            )
            assert status == 200 and "Your profile is saved" in page
            assert visitor.get("/rent/")[0] == 200
            assert visitor.get("/")[0] == 200
    finally:
        server.stop()
    assert (
        cluster.sql(
            "SELECT full_name FROM accounts_user WHERE email='bounced@example.np'",
            "site",
        )
        == "Name 7"
    )
    assert "Traceback" not in server.log.read_text()
