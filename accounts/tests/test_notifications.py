import pytest

from accounts.models import Notification
from accounts.notifications import notification_send, notifications_mark_read
from accounts.templatetags.notifications_tags import unread_notification_count
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_notification_is_listed_and_emailed_after_commit(
    mailbox, django_capture_on_commit_callbacks
):
    user = UserFactory(full_name="Asha Gurung")

    with django_capture_on_commit_callbacks(execute=True):
        notification_send(
            user=user,
            kind=Notification.Kind.VISIT_CONFIRMATION,
            text="Your visit is confirmed.",
            url="/visits/1/",
        )

    assert Notification.objects.get().is_unread
    assert len(mailbox) == 1
    assert mailbox[0].to == [user.email]
    assert mailbox[0].subject == "Your visit is confirmed."
    assert "Hello Asha," in mailbox[0].body
    assert "/visits/1/" in mailbox[0].body


def test_rolled_back_notification_sends_no_email(
    mailbox, django_capture_on_commit_callbacks
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification_send(user=user, kind="visit_request", text="Hi")

    assert mailbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert len(mailbox) == 1


def test_marking_read_touches_only_that_person():
    asha, bikash = UserFactory(), UserFactory()
    for user in (asha, asha, bikash):
        notification_send(user=user, kind="visit_request", text="New request")

    assert unread_notification_count(asha) == 2
    assert notifications_mark_read(user=asha) == 2
    assert unread_notification_count(asha) == 0
    assert unread_notification_count(bikash) == 1
    assert notifications_mark_read(user=asha) == 0
