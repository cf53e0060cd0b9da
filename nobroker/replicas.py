"""
Read replicas: reads of a web request go to a healthy replica, everything else
to the primary.

`DATABASE_REPLICA_URLS` adds the replicas as the database aliases `replica_1`,
`replica_2`... (settings.py). The rules, in order:

- Only the reads of an HTTP request served through `ReplicaMiddleware` may go
  to a replica. Commands, the task worker and websocket consumers read from the
  primary: a task queued by a write must see that write.
- A request whose person wrote in the last `DATABASE_REPLICA_PIN_SECONDS`
  (a short-lived cookie set after any request that wrote or was not a GET or
  HEAD) reads from the primary, so they see what they just saved.
- Inside a transaction every read goes to the primary (this also keeps
  `select_for_update()`, which needs one, there), and so does every read of a
  request once it has written.
- A replica is used only while its last check, at most
  `DATABASE_REPLICA_CHECK_SECONDS` old, found it answering and replaying within
  `DATABASE_REPLICA_MAX_LAG` seconds of the primary. A replica that fails is
  left alone until the next check; a GET that failed on one is served again
  from the primary.

https://docs.djangoproject.com/en/6.1/topics/db/multi-db/#automatic-database-routing
"""

import contextvars
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

PIN_COOKIE = "nb_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# How far a replica is behind: nothing when it has replayed all it received,
# otherwise the age of the last transaction it replayed.
LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), "
    "1e9) END"
)


@dataclass
class RequestState:
    """What the router knows of the request being served."""

    use_replicas: bool = True
    wrote: bool = False
    used: set[str] = field(default_factory=set)


_request: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "replica_request", default=None
)


@dataclass
class Health:
    checked_at: float = float("-inf")
    usable: bool = False
    lag: float | None = None


_health: dict[str, Health] = {}
_health_lock = threading.Lock()


def replica_aliases() -> list[str]:
    return list(getattr(settings, "DATABASE_REPLICAS", ()))


def _measure(alias: str) -> Health:
    """One cheap query on the replica; any failure makes it unusable."""
    now = time.monotonic()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except DatabaseError as exc:
        logger.warning("replica %s unavailable: %s", alias, type(exc).__name__)
        connections[alias].close()
        return Health(checked_at=now, usable=False)
    usable = lag <= settings.DATABASE_REPLICA_MAX_LAG
    if not usable:
        logger.warning("replica %s lags %.1f s: reading from the primary", alias, lag)
    return Health(checked_at=now, usable=usable, lag=lag)


def replica_usable(alias: str) -> bool:
    """Whether the replica passed its last check (checked again when stale)."""
    health = _health.get(alias, Health())
    if time.monotonic() - health.checked_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
        return health.usable
    # One thread measures; the others go on with the last result meanwhile.
    if not _health_lock.acquire(blocking=False):
        return health.usable
    try:
        health = _measure(alias)
        _health[alias] = health
    finally:
        _health_lock.release()
    return health.usable


def replica_mark_down(alias: str) -> None:
    _health[alias] = Health(checked_at=time.monotonic(), usable=False)


def reset_health() -> None:
    _health.clear()


def _in_transaction() -> bool:
    # in_atomic_block, not get_autocommit(): that one opens a primary connection.
    return connections[DEFAULT_DB_ALIAS].in_atomic_block


class ReplicaRouter:
    """Sends a request's reads to a healthy replica and all writes to the primary."""

    def db_for_read(self, model, **hints):
        state = _request.get()
        if state is None or not state.use_replicas or state.wrote:
            return DEFAULT_DB_ALIAS
        if _in_transaction():
            return DEFAULT_DB_ALIAS
        candidates = [alias for alias in replica_aliases() if replica_usable(alias)]
        if not candidates:
            return DEFAULT_DB_ALIAS
        alias = random.choice(candidates)  # noqa: S311 (spreading load, not a secret)
        state.used.add(alias)
        return alias

    def db_for_write(self, model, **hints):
        state = _request.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the same rows as the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _fall_back(state: "RequestState") -> None:
    """Marks the replicas a request read from as down; its reads go to the primary."""
    for alias in state.used:
        replica_mark_down(alias)
        connections[alias].close()
    logger.warning("a read failed on %s: served from the primary", sorted(state.used))
    state.use_replicas = False
    state.used.clear()


class ReplicaMiddleware:
    """
    Lets a request's reads go to replicas, unless its person wrote moments ago;
    after a request that wrote, sets the short cookie that keeps their reads on
    the primary.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        pinned = PIN_COOKIE in request.COOKIES
        state = RequestState(use_replicas=not pinned)
        token = _request.set(state)
        try:
            response = self.get_response(request)
            if (
                response.status_code == 503
                and state.used
                and request.method in SAFE_METHODS
            ):
                # A read on a replica failed before or after the view (the
                # session, the user): the whole request again, on the primary.
                _fall_back(state)
                response = self.get_response(request)
        finally:
            _request.reset(token)
        if state.wrote or request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def process_exception(self, request, exception):
        """A GET that failed on a replica is served again from the primary."""
        state = _request.get()
        if (
            state is None
            or not state.used
            or request.method not in SAFE_METHODS
            or not isinstance(exception, DatabaseError)
        ):
            return None
        _fall_back(state)
        match = request.resolver_match
        return match.func(request, *match.args, **match.kwargs)
