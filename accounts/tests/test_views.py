import re

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import PASSWORD


@pytest.fixture
def signup_data():
    return {
        "full_name": "Pooja Gurung",
        "email": "pooja@example.np",
        "phone": "98412 34567",
        "role": "owner",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }


@pytest.mark.django_db
def test_sign_up_creates_the_account_and_logs_in(
    client, signup_data, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:signup"), signup_data)
    assert response.status_code == 302
    user = User.objects.get(email="pooja@example.np")
    assert user.role == User.Role.OWNER
    assert user.phone == "+9779841234567"
    assert not user.email_verified
    assert len(mailbox) == 1
    assert client.get(reverse("accounts:profile")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "Enter a Nepali mobile number"),
        ("email", "not-an-email", "Enter a valid email address."),
        ("password2", "different-Pass-1", "The two password fields"),
        ("full_name", "", "This field is required."),
    ],
)
def test_sign_up_shows_field_errors_and_keeps_what_was_typed(
    client, signup_data, field, value, message
):
    signup_data[field] = value
    response = client.post(reverse("accounts:signup"), signup_data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'value="Pooja Gurung"' in response.content.decode() or field == "full_name"
    assert not User.objects.filter(email="pooja@example.np").exists()


@pytest.mark.django_db
def test_sign_up_refuses_an_email_already_taken(client, signup_data):
    UserFactory(email="pooja@example.np")
    signup_data["email"] = "Pooja@Example.np"
    response = client.post(reverse("accounts:signup"), signup_data)
    assert "An account with this email already exists" in response.content.decode()


@pytest.mark.django_db
def test_verification_link_marks_email_verified(
    client, signup_data, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), signup_data)
    path = re.search(r"/accounts/verify/\S+", mailbox[0].body).group(0)
    response = client.get(path, follow=True)
    assert "Your email is verified" in response.content.decode()
    assert User.objects.get(email="pooja@example.np").email_verified


@pytest.mark.django_db
def test_a_tampered_verification_link_is_refused(client):
    user = UserFactory(email_verified=False)
    response = client.get(
        reverse("accounts:verify_email", kwargs={"uidb64": "MQ", "token": "nope-123"})
    )
    assert response.status_code == 400
    assert "doesn't work any more" in response.content.decode()
    user.refresh_from_db()
    assert not user.email_verified


@pytest.mark.django_db
def test_wrong_password_shows_a_clear_error(client, tenant):
    response = client.post(
        reverse("accounts:login"), {"username": tenant.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert "That email and password do not match" in response.content.decode()


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client, tenant, settings
):
    url = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": tenant.email.upper(), "password": "wrong"})
    response = client.post(url, {"username": tenant.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many tries" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_profile_edit_saves_and_validates(client, tenant):
    client.force_login(tenant)
    url = reverse("accounts:profile")
    bad = client.post(
        url,
        {"full_name": "A B", "email": tenant.email, "phone": "555", "role": "owner"},
    )
    assert "Enter a Nepali mobile number" in bad.content.decode()
    good = client.post(
        url,
        {
            "full_name": "Anil B",
            "email": tenant.email,
            "phone": "9801234567",
            "role": "owner",
        },
    )
    assert good.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.full_name, tenant.phone, tenant.role) == (
        "Anil B",
        "+9779801234567",
        "owner",
    )
    assert tenant.email_verified  # unchanged email stays verified


@pytest.mark.django_db
def test_pages_for_members_send_anonymous_visitors_to_log_in(client):
    for name in ["accounts:profile", "accounts:delete", "accounts:password_change"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_delete_account_needs_the_password_and_says_what_goes(client, tenant):
    client.force_login(tenant)
    url = reverse("accounts:delete")
    page = client.get(url).content.decode()
    assert "every listing you own" in page
    wrong = client.post(url, {"password": "nope"})
    assert "That password is not right." in wrong.content.decode()
    assert User.objects.filter(pk=tenant.pk).exists()
    client.post(url, {"password": PASSWORD})
    assert not User.objects.filter(pk=tenant.pk).exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_reset_sends_a_working_link(
    client, tenant, mailbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": tenant.email})
    path = re.search(r"/accounts/password/reset/\S+", mailbox[0].body).group(0)
    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Another-pass-77", "new_password2": "Another-pass-77"},
    )
    tenant.refresh_from_db()
    assert tenant.check_password("Another-pass-77")


@pytest.mark.django_db
def test_logout_needs_a_post(client, tenant):
    client.force_login(tenant)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session
