"""
Logs: one JSON object per line from every process (web, worker, commands), or
a readable console line for `make run`, each with the request id, user id and
view of the work it belongs to.

The request id comes from X-Request-ID only when PROXY_COUNT trusted proxies
stand in front (one of them set it); otherwise it is made up here. It is sent
back in the response, carried into queued tasks (django-tasks-db) and
websocket connections through a context variable, so every line a request
causes, wherever it runs, carries the same id.

Personal data stays out: users are logged by id only, routes by their pattern
(a token in a URL is never logged), and only the fields below are written.
"""

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.utils.functional import empty

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default=""
)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "user_id", default=None
)
view_var: contextvars.ContextVar[str] = contextvars.ContextVar("view", default="")
_request_var: contextvars.ContextVar = contextvars.ContextVar("request", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's id may look like; anything else is replaced by one made here.
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Fields a log call may add with `extra=`; nothing else reaches the output.
EXTRA_FIELDS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "queries",
    "task",
    "task_id",
    "code",
)


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Nepali mobile numbers, with or without +977 and separators.
PHONE = re.compile(r"(\+?977[\s-]?)?9[678]\d[\s-]?\d{3}[\s-]?\d{4}")


def scrub(text):
    """Masks email addresses and mobile numbers that slipped into a text."""
    if not isinstance(text, str):
        return text
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header_value: str | None) -> str:
    """The proxy's id when a trusted proxy is in front and it looks like one."""
    trusted = settings.PROXY_COUNT > 0 and header_value
    if trusted and _REQUEST_ID_SHAPE.match(header_value):
        return header_value
    return new_request_id()


def current_user_id() -> int | None:
    """The signed-in user's id, if this request already looked the user up."""
    found = user_id_var.get()
    if found is not None:
        return found
    request = _request_var.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None  # Not loaded: logging must not cost a session query.
    return user.pk if user.is_authenticated else None


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and view from the context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = current_user_id()
        if not getattr(record, "view", None):
            record.view = view_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", "") or None,
            "user_id": getattr(record, "user_id", None),
            "view": getattr(record, "view", "") or None,
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        record.request_tag = (
            f" [{record.request_id[:8]}]" if getattr(record, "request_id", "") else ""
        )
        return super().format(record)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting: `json` or `console` output for every process."""
    formatter = "json" if log_format == "json" else "console"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "nobroker.logs.JsonFormatter"},
            "console": {
                "()": "nobroker.logs.ConsoleFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s%(request_tag)s "
                "%(message)s",
            },
        },
        "filters": {
            "context": {"()": "nobroker.logs.ContextFilter"},
            "one_line": {"()": "nobroker.logfilters.OneLine"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context"],
            },
            "console_one_line": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context", "one_line"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The access line below replaces Django's own per-request lines.
            "django.server": {"level": "WARNING"},
            "django.db.backends": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "django_redis": {"handlers": ["console_one_line"], "propagate": False},
        },
    }


access_logger = logging.getLogger("nobroker.access")


class RequestLogMiddleware:
    """
    Gives each request its id (sent back as X-Request-ID) and writes one access
    line when it is answered: method, route pattern, view, status, duration.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        tokens = [
            request_id_var.set(request_id),
            _request_var.set(request),
            user_id_var.set(None),
            view_var.set(""),
        ]
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            match = request.resolver_match
            view = match.view_name if match else ""
            view_var.set(view)
            response[REQUEST_ID_HEADER] = request_id
            access_logger.info(
                "%s %s %s",
                request.method,
                match.route if match else "(unresolved)",
                response.status_code,
                extra={
                    "method": request.method,
                    "route": match.route if match else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "view": view,
                },
            )
            return response
        finally:
            for var, token in zip(
                (request_id_var, _request_var, user_id_var, view_var),
                tokens,
                strict=True,
            ):
                var.reset(token)


def websocket_context(scope) -> None:
    """Sets the context of a websocket's log lines (see `nobroker.consumers`):
    a request id, the user's id and the view "websocket"."""
    header = dict(scope.get("headers", ())).get(b"x-request-id", b"")
    request_id_var.set(request_id_from(header.decode("latin-1")))
    user = scope.get("user")
    loaded = user is not None and getattr(user, "_wrapped", None) is not empty
    user_id_var.set(user.pk if loaded and user.is_authenticated else None)
    view_var.set("websocket")


def websocket_opened(scope) -> None:
    access_logger.info("websocket opened %s", scope.get("path", ""))


def websocket_closed(scope, accepted_at: float) -> None:
    access_logger.info(
        "websocket closed %s",
        scope.get("path", ""),
        extra={"duration_ms": round((time.perf_counter() - accepted_at) * 1000)},
    )


# --- Tasks ------------------------------------------------------------------------


def remember_request_id(sender, task_result, **kwargs) -> None:
    """On enqueue: keep the request id with a queued task's arguments."""
    request_id = request_id_var.get()
    db_result = getattr(task_result, "db_result", None)
    if not request_id or db_result is None:
        return  # run at once, in this context, or queued outside a request
    db_result.args_kwargs["request_id"] = request_id
    db_result.save(update_fields=["args_kwargs"])


def restore_request_id(sender, task_result, **kwargs) -> None:
    """In the worker, before the task runs: its request's id, or a new one."""
    db_result = getattr(task_result, "db_result", None)
    if db_result is None:
        return
    request_id_var.set(db_result.args_kwargs.get("request_id") or new_request_id())
    user_id_var.set(None)
    view_var.set(task_result.task.module_path)


def forget_request_id(sender, task_result, **kwargs) -> None:
    """After a task: the worker's own lines carry no request id."""
    if getattr(task_result, "db_result", None) is not None:
        request_id_var.set("")
        view_var.set("")
