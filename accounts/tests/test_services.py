import re

import pytest

from accounts import services
from accounts.models import User
from accounts.tests.factories import UserFactory


def link_in(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


@pytest.mark.django_db
def test_sign_up_emails_a_verification_link_after_commit(
    mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user = services.user_sign_up(
            email="new@example.np",
            full_name="Nabin Rai",
            password="a-Strong-pass-2026",
            role=User.Role.OWNER,
        )
    assert mailbox == []  # nothing is sent before the account is committed
    for callback in callbacks:
        callback()
    assert len(mailbox) == 1
    assert mailbox[0].to == ["new@example.np"]
    assert "/accounts/verify/" in link_in(mailbox[0].body)
    assert not user.email_verified


@pytest.mark.django_db
def test_verification_link_works_once_and_not_for_another_user():
    user = UserFactory(email_verified=False)
    other = UserFactory(email_verified=False)
    token = services.verification_url(user).rstrip("/").split("/")[-1]
    assert not services.user_verify_email(user=other, token=token)
    assert services.user_verify_email(user=user, token=token)
    user.refresh_from_db()
    assert user.email_verified


@pytest.mark.django_db
def test_changing_email_requires_verifying_again(
    mailbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email_verified=True)
    old_token = services.verification_url(user).rstrip("/").split("/")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        services.user_change_email(user=user, email="moved@example.np")
    user.refresh_from_db()
    assert not user.email_verified
    assert mailbox[-1].to == ["moved@example.np"]
    assert not services.user_verify_email(user=user, token=old_token)
