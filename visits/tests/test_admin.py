import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Notification
from accounts.tests.factories import UserFactory
from visits import services
from visits.models import VisitFeedback
from visits.tests.conftest import nepal
from visits.tests.factories import ListingFactory, WeeklyWindowFactory

pytestmark = pytest.mark.django_db

SAT_10AM = nepal(2026, 12, 5, 10, 0)


@pytest.fixture
def feedbacks(listing, owner, frozen_now):
    """One worrying and one reassuring answer after two done visits."""
    made = []
    for hour, commission in ((10, True), (11, False)):
        tenant = UserFactory()
        visit = services.visit_request(
            tenant=tenant, listing=listing, starts_at=nepal(2026, 12, 5, hour)
        )
        services.visit_confirm(visit=visit, owner=owner)
        with time_machine.travel(nepal(2026, 12, 5, 13), tick=False):
            services.visit_record_outcome(visit=visit, owner=owner, outcome="done")
        made.append(
            services.visit_feedback_give(
                visit=visit,
                tenant=tenant,
                listing_accurate=True,
                commission_asked=commission,
                comment="He wanted half a month's rent" if commission else "",
            )
        )
    return made


def test_staff_filter_visits_by_status_date_and_listing(
    client, staff, listing, feedbacks, frozen_now
):
    other = ListingFactory()
    WeeklyWindowFactory(listing=other)
    services.visit_request(
        tenant=UserFactory(), listing=other, starts_at=nepal(2026, 12, 12, 10)
    )
    client.force_login(staff)
    url = reverse("admin:visits_visit_changelist")

    assert client.get(url).context["cl"].result_count == 3
    by_status = client.get(url, {"status__exact": "done"})
    by_listing = client.get(url, {"listing__id__exact": listing.pk})
    by_date = client.get(
        url,
        {
            "slot__starts_at__gte": "2026-12-05 00:00:00+05:45",
            "slot__starts_at__lt": "2026-12-06 00:00:00+05:45",
        },
    )

    for response in (by_status, by_listing, by_date):
        assert response.status_code == 200
        assert response.context["cl"].result_count == 2
    pending = client.get(url, {"status__exact": "pending"})
    assert pending.context["cl"].result_count == 1


def test_visit_admin_page_shows_the_history(client, staff, feedbacks):
    client.force_login(staff)
    visit = feedbacks[0].visit

    response = client.get(reverse("admin:visits_visit_change", args=[visit.pk]))

    assert response.status_code == 200
    assert "Marked done" in response.content.decode()


def test_moderation_queue_lists_worrying_feedback_and_staff_resolve_it(
    client, staff, feedbacks
):
    client.force_login(staff)
    url = reverse("admin:visits_visitfeedback_changelist")

    queue = client.get(url, {"review": "needed"})
    assert [f.pk for f in queue.context["cl"].result_list] == [feedbacks[0].pk]

    response = client.post(
        url,
        {
            "action": "resolve",
            "_selected_action": [f.pk for f in feedbacks],
        },
        follow=True,
    )

    assert "1 feedback items resolved." in response.content.decode()
    assert not VisitFeedback.objects.needing_review().exists()
    assert client.get(url, {"review": "resolved"}).context["cl"].result_count == 1


def test_visit_admin_is_for_staff_only(client, tenant):
    client.force_login(tenant)

    response = client.get(reverse("admin:visits_visit_changelist"))

    assert response.status_code == 302


def test_reminder_command_sends_due_reminders_once(listing, tenant, owner, capsys):
    with time_machine.travel(nepal(2026, 12, 1, 9), tick=False):
        visit = services.visit_request(
            tenant=tenant, listing=listing, starts_at=SAT_10AM
        )
        services.visit_confirm(visit=visit, owner=owner)

    with time_machine.travel(SAT_10AM - dt.timedelta(hours=20), tick=False):
        call_command("send_visit_reminders")
        call_command("send_visit_reminders")

    assert "Reminded the parties of 1 visits." in capsys.readouterr().out
    assert (
        Notification.objects.filter(kind=Notification.Kind.VISIT_REMINDER).count() == 2
    )


def test_close_stale_command_ends_unanswered_requests(listing, tenant, capsys):
    with time_machine.travel(nepal(2026, 12, 1, 9), tick=False):
        visit = services.visit_request(
            tenant=tenant, listing=listing, starts_at=SAT_10AM
        )

    with time_machine.travel(SAT_10AM + dt.timedelta(hours=1), tick=False):
        call_command("close_stale_visits")

    assert "Closed 1 visits." in capsys.readouterr().out
    visit.refresh_from_db()
    assert visit.status == "cancelled"
