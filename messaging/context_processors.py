from functools import cache

from messaging.services import unread_count_cached


def unread_messages(request):
    """`unread_messages` for the header badge, counted only if a template asks."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def count() -> int:
        return unread_count_cached(user)

    return {"unread_messages": count}
