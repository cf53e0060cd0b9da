"""Saved-search alerts: what is new and matching, once, per period, until turned off."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.emails import render_templated_email
from accounts.models import Notification
from accounts.tests.factories import UserFactory
from listings.tests.factories import ListingFactory, locality
from searches import services
from searches.models import SavedSearch
from searches.services import (
    ALERT_LAG,
    ALERT_LISTINGS,
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


def test_each_alert_email_is_the_templates_text_for_that_person(
    django_capture_on_commit_callbacks, monkeypatch
):
    """The emails are filled in from pieces rendered once a run: each must be
    what rendering the templates for that person gives, in their language,
    with their own unsubscribe link; several batches, shared filters."""
    monkeypatch.setattr(services, "BATCH", 3)
    thamel = locality("thamel")
    listings = [
        _publish(locality=thamel, property_type="flat", title=f"Flat & <b>{i}</b>")
        for i in range(12)
    ]
    # Older checks see more listings: 12 (more than the email lists), 1, none.
    newest = listings[-1].published_at
    checks = [newest - dt.timedelta(days=1), newest - dt.timedelta(microseconds=1)]
    saved = []
    for i, language in enumerate(["", "en", "ne", "ne", "en", "", "ne"]):
        person = UserFactory(language=language, full_name=f"Sita{i} & Ram")
        search = _saved(person, email=i != 5)
        search.name = f"Flats “{i}” &\nmore"
        search.checked_until = checks[i % 2]
        search.save()
        saved.append(search)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        stats = saved_search_alerts_run()
    assert stats == {"checked": 7, "alerted": 7}
    shown = sorted(listings, key=lambda x: (x.published_at, x.pk), reverse=True)
    expected = {}
    for search in saved:
        if not search.email:
            continue
        count = 12 if search.checked_until == checks[0] else 1
        text = Notification.objects.get(user=search.user).text
        expected[search.user.email] = render_templated_email(
            to=search.user.email,
            template="searches/emails/alert",
            context={
                "user": search.user,
                "text": text,
                "saved_search": search,
                "listings": [
                    {
                        "title": x.title,
                        "locality": x.locality.name,
                        "rent": x.rent,
                        "url": x.get_absolute_url(),
                    }
                    for x in shown[: min(count, ALERT_LISTINGS)]
                ],
                "search_url": search.get_absolute_url(),
                "unsubscribe_url": search.unsubscribe_url(),
            },
        )
    sent = {
        m.to[0]: {"to": m.to, "subject": m.subject, "body": m.body} for m in mail.outbox
    }
    assert len(mail.outbox) == 6
    assert sent == expected
    assert "रु. २५,०००" in sent[saved[2].user.email]["body"]
    texts = [Notification.objects.get(user=s.user).text for s in saved[:2]]
    assert texts == [
        "More than 10 new places for your search “Flats “0” &\nmore”.",
        "1 new place for your search “Flats “1” &\nmore”.",
    ]


def test_many_searches_cost_no_more_queries_than_a_few(
    django_capture_on_commit_callbacks,
):
    def run(people):
        for person in people:
            _saved(person, query="locality=thamel&type=flat")
            _saved(person, query="locality=patan&q=quiet")
        # The run's own queries: the queued emails are the worker's.
        with (
            django_capture_on_commit_callbacks() as queued,
            CaptureQueriesContext(connection) as queries,
        ):
            stats = saved_search_alerts_run()
        assert stats["alerted"] == 2 * len(people)
        assert len(queued) == 2  # The emails in one task, the counts forgotten.
        return len(queries)

    _publish(locality=locality("thamel"), property_type="flat")
    _publish(locality=locality("patan"), description="A quiet lane.")
    few = run(UserFactory.create_batch(2))
    assert run(UserFactory.create_batch(20)) == few
