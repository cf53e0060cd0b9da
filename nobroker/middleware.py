import time

import brotli
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_string


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


class CompressionMiddleware:
    """
    Compresses HTML, JSON and other text answers with brotli, or gzip, when
    the client says it accepts them (static files come compressed from
    WhiteNoise already).

    Safe with CSRF tokens: Django masks the token differently in every
    response (BREACH), and gzip answers get Django's random-length name field.
    """

    TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")
    MIN_SIZE = 200
    BROTLI_QUALITY = 5  # Fast enough per request; 11 is for files built once.

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Encoding",))
        if (
            response.streaming
            or response.has_header("Content-Encoding")
            or len(response.content) < self.MIN_SIZE
            or not response.get("Content-Type", "").startswith(self.TYPES)
        ):
            return response
        accepted = {
            part.split(";")[0].strip().lower()
            for part in request.headers.get("Accept-Encoding", "").split(",")
        }
        if "br" in accepted:
            body = brotli.compress(response.content, quality=self.BROTLI_QUALITY)
            encoding = "br"
        elif "gzip" in accepted:
            body = compress_string(response.content, max_random_bytes=100)
            encoding = "gzip"
        else:
            return response
        if len(body) >= len(response.content):
            return response
        response.content = body
        response["Content-Length"] = str(len(body))
        response["Content-Encoding"] = encoding
        # A compressed body is a different byte sequence: its ETag is weak.
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response["ETag"] = "W/" + etag
        return response
