"""Verification links, reset emails, and answers that do not tell who has an account."""

import re
from unittest import mock

import pytest
from django.contrib.auth.hashers import get_hasher
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.services import verification_url
from accounts.tests.factories import UserFactory
from accounts.tokens import email_verification_token
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _verify_path(user, token):
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:verify_email", kwargs={"uidb64": uidb64, "token": token})


# --- Verification links -------------------------------------------------------------


@pytest.mark.parametrize("token", ["made-up-123", "cz2q8k-0123456789abcdef0123"])
def test_a_made_up_link_for_a_verified_account_does_not_say_verified(client, token):
    verified = UserFactory(email_verified=True)
    response = client.get(_verify_path(verified, token), follow=True)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Your email is verified" not in page
    assert "doesn't work any more" in page


def test_verified_and_unverified_accounts_answer_a_made_up_link_alike(client):
    verified = UserFactory(email_verified=True)
    unverified = UserFactory(email_verified=False)
    answers = [
        client.get(_verify_path(user, "made-up-123"), follow=True)
        for user in (verified, unverified)
    ]
    assert [a.status_code for a in answers] == [400, 400]
    # The page's own content is the same (the header differs only in the CSRF
    # token, masked afresh on every page, and the link being looked at).
    pages = [a.content.decode() for a in answers]
    mains = [page[page.index("<main") : page.index("</main>")] for page in pages]
    mains = [re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", m) for m in mains]
    assert mains[0] == mains[1]
    unverified.refresh_from_db()
    assert not unverified.email_verified


def test_a_used_link_tells_only_its_own_holder_that_they_are_verified(client):
    user = UserFactory(email_verified=False)
    path = verification_url(user)
    assert client.get(path).status_code == 302
    user.refresh_from_db()
    assert user.email_verified

    assert client.get(path).status_code == 400  # a stranger with the old link
    client.force_login(user)
    response = client.get(path, follow=True)
    assert "Your email is already verified." in response.content.decode()


def test_a_valid_link_still_verifies(client):
    user = UserFactory(email_verified=False)
    token = email_verification_token.make_token(user)
    response = client.get(_verify_path(user, token), follow=True)
    assert "Your email is verified" in response.content.decode()
    user.refresh_from_db()
    assert user.email_verified


# --- Password reset -------------------------------------------------------------------


def test_the_reset_link_uses_site_url_not_the_requests_host(
    client, tenant, mailbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://rent.example.np"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:password_reset"),
            {"email": tenant.email},
            HTTP_HOST="localhost:9999",
        )
    assert len(mailbox) == 1
    link = re.search(r"https?://\S+", mailbox[0].body).group(0)
    assert link.startswith("https://rent.example.np/accounts/password/reset/")
    assert "localhost" not in mailbox[0].body


@pytest.fixture
def queued(settings):
    """Tasks are only queued (as for the worker), not run in the request."""
    from django.tasks import default_task_backend

    settings.TASKS = {
        "default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}
    }
    default_task_backend.clear()
    return default_task_backend


def test_reset_does_the_same_work_for_a_known_and_an_unknown_address(
    client, tenant, mailbox, queued, django_capture_on_commit_callbacks
):
    url = reverse("accounts:password_reset")
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(url, {"email": tenant.email})
        unknown = client.post(url, {"email": "nobody-here@example.np"})
    assert (known.status_code, known["Location"]) == (
        unknown.status_code,
        unknown["Location"],
    )
    assert [r.task.name for r in queued.results] == ["send_password_reset"] * 2
    assert mailbox == []  # nothing is looked up or mailed while the page answers

    with django_capture_on_commit_callbacks(execute=True):
        for result in list(queued.results):
            result.task.call(*result.args, **result.kwargs)
    sent = [r for r in queued.results if r.task.name == "send_email"]
    assert [r.kwargs["to"] for r in sent] == [[tenant.email]]


def test_sign_up_hashes_a_password_for_a_taken_address_too(client):
    UserFactory(email="taken@example.np")
    hasher = type(get_hasher())
    data = {
        "full_name": "Pooja Gurung",
        "phone": "",
        "role": "tenant",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    calls = []
    for email in ("taken@example.np", "new@example.np"):
        client.logout()
        with mock.patch.object(
            hasher, "encode", autospec=True, side_effect=hasher.encode
        ) as encode:
            client.post(reverse("accounts:signup"), {**data, "email": email})
        calls.append(encode.call_count)
    assert calls == [1, 1]
    assert User.objects.filter(email="new@example.np").exists()
