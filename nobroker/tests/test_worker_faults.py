"""
The worker killed in the middle of a task: the task runs again, and its email
is sent once. Real `manage.py worker` processes on the test's PostgreSQL database.
"""

import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.tasks import TaskResultStatus

from nobroker.models import SentOnce
from nobroker.sendonce import do_once
from nobroker.tests.processes import BASE_DIR, scratch_folder, site_environment


def test_a_key_done_is_not_done_again(db):
    calls = []
    assert do_once("k", lambda: calls.append(1) or 1) == 1
    assert do_once("k", lambda: calls.append(1) or 1) is None
    assert calls == [1]


def test_a_stale_claim_not_done_is_taken_over(db, settings):
    import datetime

    from django.utils import timezone

    settings.TASKS_LEASE_SECONDS = 60
    SentOnce.objects.create(
        key="k", claimed_at=timezone.now() - datetime.timedelta(seconds=30)
    )
    assert (
        do_once("k", lambda: 1) is None
    )  # claim still fresh: another run may be sending
    SentOnce.objects.filter(key="k").update(
        claimed_at=timezone.now() - datetime.timedelta(seconds=61)
    )
    assert do_once("k", lambda: 1) == 1
    assert SentOnce.objects.get(key="k").done_at is not None


def _worker(env, log):
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "worker",
            "--interval",
            "0.2",
            "--no-startup-delay",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_task_the_email_goes_once(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the database queue's fault test runs on PostgreSQL")
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import send_email

    db = connection.settings_dict
    url = f"postgres://{db['USER'] or 'root'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = site_environment(DATABASE_URL=url, TASKS_BACKEND="database")
    folder = scratch_folder()

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    result = send_email.enqueue(
        to=["someone@example.np"], subject="Killed-worker-check", body="Hi"
    )
    key = f"send_email:{result.id}"

    # The test holds the key's row uncommitted: the worker's claim waits on it.
    import psycopg

    blocker = psycopg.connect(url)
    with blocker.cursor() as cur:
        cur.execute(
            "INSERT INTO nobroker_sentonce (key, claimed_at) VALUES (%s, now() - interval '1 day')",
            [key],
        )
    first = _worker(env, folder / "first.log")
    try:
        deadline = time.monotonic() + 60
        while DBTaskResult.objects.get(id=result.id).status != TaskResultStatus.RUNNING:
            assert time.monotonic() < deadline, (folder / "first.log").read_text()
            time.sleep(0.2)
        time.sleep(1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        blocker.rollback()
        blocker.close()
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.RUNNING

    # The worker started again puts the task its predecessor left running
    # back in the queue itself (a lease of 0: any running task is stale).
    env["TASKS_LEASE_SECONDS"] = "0"
    second = _worker(env, folder / "second.log")
    try:
        deadline = time.monotonic() + 60
        while (
            DBTaskResult.objects.get(id=result.id).status != TaskResultStatus.SUCCESSFUL
        ):
            assert time.monotonic() < deadline, (folder / "second.log").read_text()
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert "1 stale task(s) put back" in (folder / "second.log").read_text()
    logs = (folder / "first.log").read_text() + (folder / "second.log").read_text()
    assert logs.count("Subject: Killed-worker-check") == 1
    assert SentOnce.objects.get(key=key).done_at is not None


def test_requeue_stale_tasks_puts_back_only_tasks_older_than_the_lease(db, settings):
    import datetime

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import send_email
    from nobroker.sendonce import requeue_stale_tasks

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.TASKS_LEASE_SECONDS = 600
    old, fresh = (
        send_email.enqueue(to=["a@example.np"], subject="s", body="b") for _ in range(2)
    )
    now = timezone.now()
    DBTaskResult.objects.filter(id=old.id).update(
        status=TaskResultStatus.RUNNING, started_at=now - datetime.timedelta(hours=1)
    )
    DBTaskResult.objects.filter(id=fresh.id).update(
        status=TaskResultStatus.RUNNING, started_at=now
    )
    assert requeue_stale_tasks() == 1
    assert DBTaskResult.objects.get(id=old.id).status == TaskResultStatus.READY
    assert DBTaskResult.objects.get(id=fresh.id).status == TaskResultStatus.RUNNING


def test_a_bulk_send_run_again_sends_only_what_the_first_run_did_not(db, mailoutbox):
    from types import SimpleNamespace

    from accounts.tasks import send_emails

    context = SimpleNamespace(task_result=SimpleNamespace(id="bulk-1"))
    messages = [
        {"to": [f"p{i}@example.np"], "subject": f"Alert {i}", "body": "New flats"}
        for i in range(3)
    ]
    # The first run sent the first email and died before the rest.
    do_once("send_emails:bulk-1:0", lambda: 1)
    assert send_emails.func(context, messages=messages) == 2
    assert [m.subject for m in mailoutbox] == ["Alert 1", "Alert 2"]
    assert send_emails.func(context, messages=messages) == 0
    assert len(mailoutbox) == 2
