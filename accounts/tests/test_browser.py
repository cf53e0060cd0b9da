"""Account journeys in a real browser (Chromium driven by Playwright)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_verify_log_in_and_edit_profile(page, live_server, mailbox):
    page.goto(live_server.url)
    page.get_by_text("Menu").click()
    page.get_by_role("link", name="Sign up").click()

    page.get_by_label("Full name").fill("Sabina Tamang")
    page.get_by_label("Email address").fill("sabina@example.np")
    page.get_by_label("Mobile number").fill("9841 000111")
    page.get_by_label("Owner: I have a place to rent out").check()
    page.get_by_label(re.compile(r"^Password\W*$")).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("open it to verify your email")).to_be_visible()
    expect(page.get_by_text("Email not verified")).to_be_visible()

    # Open the link from the test mailbox, as the person would from their inbox.
    assert len(mailbox) == 1
    link = re.search(r"https?://\S+", mailbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    page.goto(f"{live_server.url}/{path}")
    expect(page.get_by_text("Your email is verified")).to_be_visible()

    page.get_by_text("Menu").click()
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill("sabina@example.np")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_text("Email verified")).to_be_visible()
    page.get_by_label("Full name").fill("Sabina Lama Tamang")
    page.get_by_label("Tenant: I am looking for a place").check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()

    user = User.objects.get(email="sabina@example.np")
    assert user.full_name == "Sabina Lama Tamang"
    assert user.role == User.Role.TENANT
    assert user.email_verified


def test_wrong_password_shows_a_clear_error(page, live_server, tenant):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(tenant.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That email and password do not match an account"
    )
    expect(page.get_by_label("Email address")).to_have_value(tenant.email)


def test_too_many_failures_show_the_lockout_page(page, live_server, tenant, settings):
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Email address").fill(tenant.email)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(tenant.email)
    page.get_by_label("Password").fill(PASSWORD)
    response_holder = []
    page.on("response", lambda r: response_holder.append(r.status))
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("heading", name=re.compile("Too many tries"))
    ).to_be_visible()
    assert 429 in response_holder
