from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.emails import send_templated_email
from accounts.models import User
from accounts.tokens import email_verification_token


def verification_url(user: User) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_verification_token.make_token(user)
    return reverse("accounts:verify_email", kwargs={"uidb64": uidb64, "token": token})


def user_send_verification(*, user: User) -> None:
    """Emails the link that marks the address as verified."""
    send_templated_email(
        to=user.email,
        template="accounts/emails/verify_email",
        context={"user": user, "path": verification_url(user)},
    )


@transaction.atomic
def user_sign_up(
    *, email: str, full_name: str, password: str, role: str, phone: str = ""
) -> User:
    """Creates the account and sends the verification email after commit."""
    user = User.objects.create_user(
        email=email, full_name=full_name, password=password, role=role, phone=phone
    )
    user_send_verification(user=user)
    return user


def user_verify_email(*, user: User, token: str) -> bool:
    """
    Marks the email verified when the token is valid; returns whether it was.
    The token is checked first: an account's state (verified or not) is never
    told to someone holding a made-up link.
    """
    if not email_verification_token.check_token(user, token):
        return False
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    return True


def user_send_password_reset(*, email: str) -> int:
    """
    Emails a link to choose a new password to each active account with this
    address (none when there is no such account); returns how many were sent.
    Runs in the worker (`send_password_reset`), after the page has answered.
    """
    users = list(PasswordResetForm().get_users(email))
    for user in users:
        send_templated_email(
            to=user.email,
            template="accounts/emails/password_reset",
            context={
                "user": user,
                "uid": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    return len(users)


@transaction.atomic
def user_change_email(*, user: User, email: str) -> None:
    """A new address must be verified again before it counts."""
    user.email = email
    user.email_verified = False
    user.save(update_fields=["email", "email_verified"])
    user_send_verification(user=user)


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Deletes the account and, through the database's cascades, all it owns."""
    user.delete()


# --- Account flagging ----------------------------------------------------------
# A flagged account's listings always go to review (listings.services).


def accounts_sharing_phone(user: User):
    """The other accounts with this account's phone number."""
    if not user.phone:
        return User.objects.none()
    return User.objects.filter(phone=user.phone).exclude(pk=user.pk)


@transaction.atomic
def user_flag(*, user: User, reason: str) -> None:
    """Flags an account for staff and takes away its trusted-owner standing."""
    user.is_flagged = True
    user.is_trusted_owner = False
    user.flag_reason = reason[:255]
    user.save(update_fields=["is_flagged", "is_trusted_owner", "flag_reason"])


@transaction.atomic
def user_flag_shared_phone(*, user: User) -> int:
    """Flags every account (this one included) whose phone is on several accounts."""
    others = list(accounts_sharing_phone(user))
    if not others:
        return 0
    reason = _("The phone number %(phone)s is on %(n)s accounts.") % {
        "phone": user.phone,
        "n": len(others) + 1,
    }
    ids = [user.pk, *(o.pk for o in others)]
    return User.objects.filter(pk__in=ids, is_flagged=False).update(
        is_flagged=True, flag_reason=reason[:255]
    )


@transaction.atomic
def users_flag_shared_phones() -> int:
    """Flags every account whose phone number is also on another account."""
    shared = (
        User.objects.exclude(phone="")
        .values("phone")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("phone", flat=True)
    )
    flagged = 0
    for phone in list(shared):
        first = User.objects.filter(phone=phone).first()
        flagged += user_flag_shared_phone(user=first)
    return flagged
