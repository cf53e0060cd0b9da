import time

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection


class QueryTimer:
    """An execute wrapper that counts queries and adds up their time."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


class ServerTimingMiddleware:
    """
    Adds a Server-Timing header with the time spent in Django and in the database.

    Browsers show it in their developer tools and load tests read it, so a slow
    page says at once whether the time goes to SQL or to Python. On with the
    SERVER_TIMING setting: https://www.w3.org/TR/server-timing/
    """

    def __init__(self, get_response):
        if not settings.SERVER_TIMING:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        timer = QueryTimer()
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        total = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = (
            f'db;dur={timer.seconds * 1000:.2f};desc="{timer.count} queries", '
            f"total;dur={total:.2f}"
        )
        return response


class PermissionsPolicyMiddleware:
    """
    Sends Permissions-Policy (no camera, microphone, location and the like for
    any frame) and Cross-Origin-Resource-Policy on every response; Django's
    SecurityMiddleware sends the other security headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.PERMISSIONS_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.policy)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
