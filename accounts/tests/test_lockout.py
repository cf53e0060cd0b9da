"""Password guessing: locked per account from anywhere, per address only far later."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.lockout import address_group
from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def _log_in(client, email, password, ip="10.20.30.40"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_a_guesser_is_stopped_from_any_address(client, tenant, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, tenant.email, f"guess-{n}", ip=f"10.0.{n}.1")
    response = _log_in(client, tenant.email, PASSWORD, ip="10.99.0.1")
    assert response.status_code == 429
    assert "Too many tries" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_second_person_on_the_same_address_still_logs_in(client, tenant, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT * 3):
        _log_in(client, tenant.email, f"guess-{n}")
    neighbour = UserFactory()
    response = _log_in(client, neighbour.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(neighbour.pk)


def test_an_address_locks_only_at_its_far_higher_limit(client, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 12
    assert settings.LOGIN_IP_FAILURE_LIMIT > settings.LOGIN_FAILURE_LIMIT
    someone = UserFactory()
    for n in range(settings.LOGIN_IP_FAILURE_LIMIT - 1):
        _log_in(client, f"guess{n}@example.np", "wrong")
    assert _log_in(client, someone.email, "wrong").status_code == 429
    assert _log_in(client, someone.email, PASSWORD).status_code == 429
    # Another address is not affected.
    assert _log_in(client, someone.email, PASSWORD, ip="10.1.1.1").status_code == 302


def test_the_default_address_limit_is_far_above_the_account_limit(settings):
    assert settings.LOGIN_IP_FAILURE_LIMIT >= 10 * settings.LOGIN_FAILURE_LIMIT


def test_an_ipv6_subscriber_cannot_dodge_the_address_limit_inside_their_64():
    assert address_group("2400:1a00:b040:1::1") == address_group(
        "2400:1a00:b040:1:ffff:ffff:ffff:fffe"
    )
    assert address_group("2400:1a00:b040:1::1") != address_group("2400:1a00:b040:2::1")
    assert address_group("::ffff:10.1.2.3") == "10.1.2.3"


def test_a_successful_login_resets_the_account_count_but_not_the_address(
    client, tenant, settings
):
    settings.LOGIN_IP_FAILURE_LIMIT = 8
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        _log_in(client, tenant.email, f"guess-{n}")
    assert _log_in(client, tenant.email, PASSWORD).status_code == 302
    client.logout()
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        _log_in(client, tenant.email, f"again-{n}")
    assert _log_in(client, tenant.email, PASSWORD).status_code == 429  # address: 8


def test_counters_store_no_email_or_address(client, tenant):
    from django.core.cache import cache

    _log_in(client, tenant.email, "wrong")
    if hasattr(cache, "keys"):  # django-redis
        lockout_keys = cache.keys("lockout:*")
    else:
        lockout_keys = [key for key in cache._cache if "lockout:" in key]
    assert len(lockout_keys) == 2
    assert not any(tenant.email in key or "10.20.30.40" in key for key in lockout_keys)


# --- Password checks after logging in ---------------------------------------------


def test_wrong_passwords_on_delete_account_lock_it_like_logins(
    client, tenant, settings
):
    client.force_login(tenant)
    url = reverse("accounts:delete")
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        response = client.post(url, {"password": f"guess-{n}"})
        assert "That password is not right." in response.content.decode()
    response = client.post(url, {"password": "last-guess"})
    assert response.status_code == 429
    assert "Too many tries" in response.content.decode()
    # Locked: even the right password no longer deletes the account...
    assert client.post(url, {"password": PASSWORD}).status_code == 429
    assert User.objects.filter(pk=tenant.pk).exists()
    # ...and logging in elsewhere is refused too.
    assert (
        Client()
        .post(LOGIN, {"username": tenant.email, "password": PASSWORD})
        .status_code
        == 429
    )


def test_wrong_passwords_on_password_change_lock_it_like_logins(
    client, tenant, settings
):
    client.force_login(tenant)
    url = reverse("accounts:password_change")
    new = {"new_password1": "Another-pass-77", "new_password2": "Another-pass-77"}
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        response = client.post(url, {"old_password": f"guess-{n}", **new})
        assert response.status_code == 200
        assert "Your old password was entered incorrectly" in response.content.decode()
    assert client.post(url, {"old_password": "last", **new}).status_code == 429
    assert client.post(url, {"old_password": PASSWORD, **new}).status_code == 429
    tenant.refresh_from_db()
    assert tenant.check_password(PASSWORD)


def test_delete_and_change_still_work_with_the_right_password(client, tenant):
    client.force_login(tenant)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Another-pass-77",
            "new_password2": "Another-pass-77",
        },
    )
    assert response.status_code == 302
    response = client.post(reverse("accounts:delete"), {"password": "Another-pass-77"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=tenant.pk).exists()
