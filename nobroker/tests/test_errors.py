"""What Sentry would receive for a failing request, through a local transport."""

import secrets

import pytest
import sentry_sdk
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from sentry_sdk.transport import Transport

from listings import views as listing_views
from nobroker.errors import git_commit, sentry_init


class LocalTransport(Transport):
    """Keeps each event in memory instead of sending it."""

    events: list = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@pytest.fixture
def sentry_events(settings):
    LocalTransport.events = []
    sentry_init(
        dsn="https://public@sentry.example.com/1",
        environment="staging",
        release="0123abcd",
        traces=0,
        transport=LocalTransport,
    )
    yield LocalTransport.events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # off again for the other tests


def failing_client(user=None) -> Client:
    client = Client(raise_request_exception=False)
    if user:
        client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_failing_request_reaches_sentry_without_personal_data(
    sentry_events, monkeypatch, tenant
):
    phone = "98" + "41234567"  # built here: the source line is sent as context

    def broken(search):
        raise ValueError(f"could not search for {tenant.email} on {phone}")

    monkeypatch.setattr(listing_views, "run_search", broken)
    client = failing_client(tenant)
    response = client.get(
        reverse("listings:search") + f"?q={tenant.email}",
        headers={"X-Forwarded-For": "203.0.113.50", "User-Agent": "Phone/1.0"},
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    assert len(sentry_events) == 1
    event = sentry_events[0]
    assert event["release"] == "0123abcd"
    assert event["environment"] == "staging"
    assert event["user"] == {"id": str(tenant.pk)}
    assert event["tags"]["request_id"] == response["X-Request-ID"]
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    text = str(event)
    for personal in (
        tenant.email,
        tenant.full_name,
        phone,
        "203.0.113.50",
        "Phone/1.0",
        client.cookies["sessionid"].value,
    ):
        assert personal not in text
    assert "fingerprint" not in event


@pytest.mark.django_db
def test_database_outages_are_one_issue_wherever_they_happen(
    sentry_events, monkeypatch
):
    def down(*args, **kwargs):
        raise OperationalError("connection to server at 10.0.0.7 failed")

    monkeypatch.setattr(listing_views, "run_search", down)
    monkeypatch.setattr(listing_views, "_detail_bundle", down)
    client = failing_client()
    assert client.get(reverse("listings:search")).status_code == 503
    assert client.get(reverse("listings:detail_noslug", args=[1])).status_code == 503
    sentry_sdk.flush()
    assert len(sentry_events) == 2
    assert {tuple(e["fingerprint"]) for e in sentry_events} == {
        ("database-unavailable",)
    }
    assert all(e["tags"]["outage"] == "database" for e in sentry_events)


def test_the_release_defaults_to_the_checked_out_commit():
    from django.conf import settings

    commit = git_commit(settings.BASE_DIR)
    if commit is None:
        pytest.skip("not a git checkout")
    assert len(commit) == 40
    from nobroker.tests.test_settings import run_manage

    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; import sentry_sdk; "
        "print(settings.SENTRY_RELEASE, sentry_sdk.get_client().options['release'])",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        SENTRY_DSN="https://public@sentry.example.com/1",
    )
    assert result.stdout.split()[-2:] == [commit, commit], result.stderr
