from django import template

from accounts import notifications

register = template.Library()


@register.simple_tag
def unread_notification_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return notifications.unread_notification_count(user)
