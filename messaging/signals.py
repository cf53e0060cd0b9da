from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from messaging.services import session_end


@receiver(user_logged_out, dispatch_uid="messaging_close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    session = getattr(request, "session", None)
    session_end(user_id=user.pk, session_key=session.session_key if session else None)
