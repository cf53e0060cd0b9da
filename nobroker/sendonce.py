"""
At most once per key, for side effects a re-run task must not repeat.

A task killed with its worker is run again (see `requeue_stale_tasks`). Before
the send, the key is claimed in a row of its own (committed at once); after the
send the row is marked done. A run that finds the key done does nothing. A run
that finds it claimed but not done does nothing either, unless the claim is
older than the lease: then the first run is taken to have died before sending
and the send is tried again. The window left is a worker that dies after the
send and before the mark, and whose claim then outlives the lease: that email
goes twice. Choosing the other order (mark, then send) would lose the email in
the same window instead; a duplicated notice is the smaller harm here.
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from nobroker.models import SentOnce


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.TASKS_LEASE_SECONDS)


def requeue_stale_tasks(seconds: float | None = None) -> int | None:
    """
    Puts back in the queue the tasks a dead worker left running (started
    longer ago than the lease); None when tasks do not go through the database.
    """
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return None
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    seconds = settings.TASKS_LEASE_SECONDS if seconds is None else seconds
    cutoff = timezone.now() - datetime.timedelta(seconds=seconds)
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(status=TaskResultStatus.READY, started_at=None)


def claim(key: str) -> bool:
    """True when the caller may do the side effect for this key now."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SentOnce.objects.create(key=key, claimed_at=now)
        return True
    except IntegrityError:
        pass
    # Taken over only when the earlier claim is stale and not done; the
    # conditional update lets one of two racing runs win.
    return bool(
        SentOnce.objects.filter(
            key=key, done_at__isnull=True, claimed_at__lt=now - lease()
        ).update(claimed_at=now)
    )


def mark_done(key: str) -> None:
    SentOnce.objects.filter(key=key).update(done_at=timezone.now())


def do_once(key: str, action):
    """Runs `action()` unless it was done (or is being done) for `key`; returns its result or None."""
    if not claim(key):
        return None
    result = action()
    mark_done(key)
    return result
