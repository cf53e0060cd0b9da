import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from listings.models import Locality
from nobroker.middleware import ServerTimingMiddleware

SERVER_TIMING = re.compile(
    r'^db;dur=(?P<db>[\d.]+);desc="(?P<queries>\d+) queries", total;dur=(?P<total>[\d.]+)$'
)


def view_running_queries(count):
    def view(request):
        for _ in range(count):
            list(Locality.objects.all()[:1])
        return HttpResponse("ok")

    return view


@pytest.mark.django_db
def test_server_timing_reports_queries_and_time(settings):
    settings.SERVER_TIMING = True
    middleware = ServerTimingMiddleware(view_running_queries(3))

    response = middleware(RequestFactory().get("/"))

    match = SERVER_TIMING.match(response["Server-Timing"])
    assert match, response["Server-Timing"]
    assert match["queries"] == "3"
    assert float(match["total"]) >= float(match["db"]) > 0


@pytest.mark.django_db
def test_server_timing_header_is_on_real_pages_when_enabled(settings, client):
    settings.SERVER_TIMING = True

    response = client.get("/rent/")

    assert SERVER_TIMING.match(response["Server-Timing"])


def test_server_timing_is_off_unless_asked_for(settings, client):
    settings.SERVER_TIMING = False

    response = client.get("/healthz")

    assert "Server-Timing" not in response
