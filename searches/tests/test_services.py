"""Saved-search alerts: what is new and matching, once, per period, until turned off."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Notification
from listings.tests.factories import ListingFactory, locality
from searches.models import SavedSearch
from searches.services import (
    ALERT_LAG,
    saved_search_alerts_run,
    saved_search_create,
    saved_search_set_alerts,
)

pytestmark = pytest.mark.django_db


def _saved(user, query="locality=thamel&type=flat", frequency="instant", **kw):
    saved = saved_search_create(
        user=user, name="Flats in Thamel", query=query, frequency=frequency, **kw
    )
    # Saved a while ago: listings published since then are new to it.
    SavedSearch.objects.filter(pk=saved.pk).update(
        checked_until=timezone.now() - dt.timedelta(days=8)
    )
    saved.refresh_from_db()
    return saved


def _publish(**kw):
    return ListingFactory(
        published_at=timezone.now() - ALERT_LAG - dt.timedelta(minutes=5), **kw
    )


def test_new_matching_listing_sends_one_email_and_one_notification(
    tenant, django_capture_on_commit_callbacks
):
    saved = _saved(tenant)
    match = _publish(locality=locality("thamel"), property_type="flat")
    _publish(locality=locality("patan"), property_type="flat")
    _publish(locality=locality("thamel"), property_type="room")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        stats = saved_search_alerts_run()
    assert stats == {"checked": 1, "alerted": 1}
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert match.get_absolute_url() in body
    assert saved.unsubscribe_url() in body
    assert "Flats in Thamel" in mail.outbox[0].subject
    notes = Notification.objects.filter(user=tenant, kind="saved_search")
    assert notes.count() == 1


def test_a_second_run_announces_nothing_twice(
    tenant, django_capture_on_commit_callbacks
):
    _saved(tenant)
    _publish(locality=locality("thamel"), property_type="flat")
    with django_capture_on_commit_callbacks(execute=True):
        saved_search_alerts_run()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        stats = saved_search_alerts_run()
    assert stats["alerted"] == 0
    assert mail.outbox == []
    assert Notification.objects.filter(user=tenant).count() == 1


def test_daily_search_is_alerted_once_a_day(tenant, django_capture_on_commit_callbacks):
    _saved(tenant, frequency="daily")
    _publish(locality=locality("thamel"), property_type="flat")
    with django_capture_on_commit_callbacks(execute=True):
        assert saved_search_alerts_run()["alerted"] == 1
    # Another matching listing an hour later waits for tomorrow's email.
    ListingFactory(locality=locality("thamel"), property_type="flat")
    later = timezone.now() + dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert saved_search_alerts_run(now=later)["checked"] == 0
    tomorrow = timezone.now() + dt.timedelta(days=1, minutes=5)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert saved_search_alerts_run(now=tomorrow)["alerted"] == 1
    assert len(mail.outbox) == 1


def test_turned_off_search_gets_no_alerts(tenant, django_capture_on_commit_callbacks):
    saved = _saved(tenant)
    saved_search_set_alerts(saved_search=saved, frequency="off")
    _publish(locality=locality("thamel"), property_type="flat")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert saved_search_alerts_run() == {"checked": 0, "alerted": 0}
    assert mail.outbox == []


def test_in_site_only_search_sends_no_email(tenant, django_capture_on_commit_callbacks):
    _saved(tenant, email=False)
    _publish(locality=locality("thamel"), property_type="flat")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        saved_search_alerts_run()
    assert mail.outbox == []
    assert Notification.objects.filter(user=tenant, kind="saved_search").exists()


def test_alert_is_written_in_the_persons_language(
    tenant, django_capture_on_commit_callbacks
):
    tenant.language = "ne"
    tenant.save()
    _saved(tenant, query="q=कोठा")
    _publish(property_type="room", rent=12000)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        saved_search_alerts_run()
    assert "रु. १२,०००" in mail.outbox[0].body
    assert "नयाँ ठाउँ" in Notification.objects.get(user=tenant).text


def test_is_due_agrees_with_the_due_query(tenant):
    now = timezone.now()
    for frequency in ("instant", "daily", "weekly", "off"):
        for age in (
            dt.timedelta(minutes=5),
            dt.timedelta(days=2),
            dt.timedelta(days=8),
        ):
            for email, notify in ((True, True), (False, True), (False, False)):
                saved = SavedSearch.objects.create(
                    user=tenant,
                    name="x",
                    query="",
                    frequency=frequency,
                    email=email,
                    notify=notify,
                    checked_until=now - age,
                )
                in_query = SavedSearch.objects.due(now).filter(pk=saved.pk).exists()
                assert saved.is_due(now) == in_query, (frequency, age, email, notify)
