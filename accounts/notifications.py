from django.utils import timezone

from accounts.emails import send_templated_email
from accounts.models import Notification, User
from nobroker.counters import (
    cached_count,
    forget_count_on_commit,
    forget_counts_on_commit,
)


def notification_send(
    *,
    user: User,
    kind: str,
    text: str,
    url: str = "",
    email_template: str = "accounts/emails/notification",
    email_context: dict | None = None,
    email: bool = True,
) -> Notification:
    """
    Adds a line to the user's notification list and (unless `email` is False)
    emails them the same news once the surrounding transaction commits.
    """
    notification = Notification.objects.create(user=user, kind=kind, text=text, url=url)
    forget_count_on_commit("notifications", user.pk)
    if not email:
        return notification
    send_templated_email(
        to=user.email,
        template=email_template,
        context={"user": user, "text": text, "url": url, **(email_context or {})},
    )
    return notification


def notifications_add(*, notifications: list[Notification]) -> None:
    """Adds many lines to notification lists in one insert (no email): for a
    task that notifies thousands of people at once; it emails them itself."""
    Notification.objects.bulk_create(notifications, batch_size=1000)
    forget_counts_on_commit("notifications", [n.user_id for n in notifications])


def notifications_mark_read(*, user: User) -> int:
    """Marks every unread notification of the user as read; returns how many."""
    marked = Notification.objects.for_user(user).unread().update(read_at=timezone.now())
    forget_count_on_commit("notifications", user.pk)
    return marked


def unread_notification_count(user: User) -> int:
    """The header's unread count, cached until a notification is added or read."""
    return cached_count(
        "notifications",
        user.pk,
        lambda: Notification.objects.for_user(user).unread().count(),
    )
