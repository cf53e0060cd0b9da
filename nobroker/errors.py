"""
Error reporting to Sentry: the release (the commit) and the environment on
every event, personal data removed before anything leaves the process, and a
database outage grouped as one issue however many places notice it.
"""

import subprocess
from pathlib import Path

import sentry_sdk

from nobroker.logs import current_user_id, request_id_var, scrub

# Request headers worth keeping; the rest (cookies, authorization, forwarded
# addresses, user agents) stay out.
KEPT_HEADERS = {"accept", "accept-language", "content-type", "host", "x-request-id"}
DATABASE_DOWN = {
    "django.db.utils.OperationalError",
    "django.db.utils.InterfaceError",
    "psycopg.OperationalError",
    "psycopg.InterfaceError",
    "psycopg_pool.PoolTimeout",
}


def git_commit(base_dir: Path) -> str | None:
    """The checked-out commit, when the site runs from a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=base_dir,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _scrub_exceptions(event: dict) -> None:
    for exception in event.get("exception", {}).get("values", []):
        exception["value"] = scrub(exception.get("value"))
        for frame in exception.get("stacktrace", {}).get("frames", []):
            frame.pop("vars", None)  # local variables: passwords, forms, users


def _is_database_outage(event: dict, hint: dict) -> bool:
    error = (hint or {}).get("exc_info", (None, None))[1]
    while error is not None:
        name = f"{type(error).__module__}.{type(error).__qualname__}"
        if name in DATABASE_DOWN:
            return True
        error = error.__cause__ or error.__context__
    return False


def before_send(event: dict, hint: dict) -> dict:
    """Keeps what helps to fix the error, drops what identifies a person."""
    request = event.get("request")
    if request:
        request.pop("cookies", None)
        request.pop("data", None)
        request.pop("query_string", None)
        request.pop("env", None)
        request["headers"] = {
            name: value
            for name, value in (request.get("headers") or {}).items()
            if name.lower() in KEPT_HEADERS
        }
    user_id = current_user_id()
    event["user"] = {"id": str(user_id)} if user_id else {}
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    _scrub_exceptions(event)
    if "logentry" in event:
        event["logentry"]["message"] = scrub(event["logentry"].get("message"))
        event["logentry"]["formatted"] = scrub(event["logentry"].get("formatted"))
    crumbs = event.get("breadcrumbs", {}).get("values", [])
    # SQL, Redis and cache breadcrumbs carry parameters and keys (session
    # keys, emails): left out.
    crumbs[:] = [
        c for c in crumbs if c.get("category") not in {"query", "redis", "cache"}
    ]
    for crumb in crumbs:
        crumb["message"] = scrub(crumb.get("message"))
        crumb.pop("data", None)
    if _is_database_outage(event, hint):
        event["fingerprint"] = ["database-unavailable"]
        event.setdefault("tags", {})["outage"] = "database"
    return event


def sentry_init(
    *, dsn: str, environment: str, release: str | None, traces: float, **options
) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=traces,
        before_send=before_send,
        **options,
    )
