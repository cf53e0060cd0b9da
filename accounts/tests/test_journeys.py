"""Journeys through sign-up, profile and account security in a real browser."""

import io
import re

import pytest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image
from playwright.sync_api import expect

from accounts.models import User
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_mobile_number_typed_the_usual_ways_is_kept_at_phone_size(page, live_server):
    assert page.viewport_size["width"] == 390
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Full name").fill("Sabina Tamang")
    page.get_by_label("Email address").fill("sabina@example.np")
    phone = page.get_by_label("Mobile number")
    # Typed key by key, as a person does: a maxlength would cut it off here.
    phone.press_sequentially("+977 9841234567")
    expect(phone).to_have_value("+977 9841234567")
    page.get_by_label(re.compile(r"^Password\W*$")).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("open it to verify your email")).to_be_visible()
    assert User.objects.get(email="sabina@example.np").phone == "+9779841234567"

    expect(page.get_by_label("Mobile number")).to_have_value("+977 9841234567")
    page.get_by_label("Mobile number").fill("")
    page.get_by_label("Mobile number").press_sequentially("98412")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Enter a Nepali mobile number")).to_be_visible()

    page.get_by_label("Mobile number").fill("")
    page.get_by_label("Mobile number").press_sequentially("00977-980-123-4567")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Mobile number")).to_have_value("+977 9801234567")
    assert User.objects.get(email="sabina@example.np").phone == "+9779801234567"
    # The field fits the phone's width: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _try_password(page, live_server, email, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_guesser_is_locked_out_but_a_neighbour_on_the_same_address_logs_in(
    page, browser, live_server, tenant, settings
):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        _try_password(page, live_server, tenant.email, f"guess-{n}")
    _try_password(page, live_server, tenant.email, PASSWORD)
    expect(
        page.get_by_role("heading", name=re.compile("Too many tries"))
    ).to_be_visible()

    # Someone else behind the same address (127.0.0.1), in their own browser.
    neighbour = User.objects.create_user(
        email="neighbour@example.np", full_name="Hari Neupane", password=PASSWORD
    )
    other = browser.new_context(viewport={"width": 390, "height": 844})
    other_page = other.new_page()
    _try_password(other_page, live_server, neighbour.email, PASSWORD)
    expect(other_page.get_by_text("Too many tries")).to_have_count(0)
    other_page.goto(f"{live_server.url}/accounts/profile/")
    expect(other_page.get_by_label("Full name")).to_have_value("Hari Neupane")
    other.close()


def test_guessing_the_password_on_delete_account_shows_the_lockout_page(
    page, live_server, login_as, tenant, settings
):
    login_as(page, tenant)
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/accounts/delete/")
        page.get_by_label("Your password").fill(f"guess-{n}")
        page.get_by_role("button", name=re.compile("Delete")).click()
        page.wait_for_load_state()
    expect(
        page.get_by_role("heading", name=re.compile("Too many tries"))
    ).to_be_visible()
    page.goto(f"{live_server.url}/accounts/delete/")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Delete")).click()
    expect(
        page.get_by_role("heading", name=re.compile("Too many tries"))
    ).to_be_visible()
    assert User.objects.filter(pk=tenant.pk).exists()


def test_a_made_up_verification_link_says_nothing_about_the_account(
    page, live_server, tenant
):
    assert tenant.email_verified
    uidb64 = urlsafe_base64_encode(force_bytes(tenant.pk))
    page.goto(f"{live_server.url}/accounts/verify/{uidb64}/made-up-123/")
    expect(
        page.get_by_role("heading", name="That link doesn't work any more")
    ).to_be_visible()
    expect(page.get_by_text("Your email is verified")).to_have_count(0)


def test_a_reset_email_links_to_the_site_url_and_works(
    page, live_server, tenant, mailbox, settings
):
    settings.SITE_URL = live_server.url
    page.goto(f"{live_server.url}/accounts/password/reset/")
    page.get_by_label("Email").fill(tenant.email)
    page.get_by_role("button", name=re.compile("link", re.I)).click()
    page.wait_for_load_state()
    assert len(mailbox) == 1
    link = re.search(r"https?://\S+", mailbox[0].body).group(0)
    assert link.startswith(f"{live_server.url}/accounts/password/reset/")
    page.goto(link)
    page.get_by_label(re.compile(r"^New password\W*$")).fill("Another-pass-77")
    page.get_by_label("New password confirmation").fill("Another-pass-77")
    page.get_by_role("button", name=re.compile("password", re.I)).click()
    page.wait_for_load_state()
    tenant.refresh_from_db()
    assert tenant.check_password("Another-pass-77")


def test_the_notification_bell_is_drawn_by_the_site_not_an_emoji_font(
    page, live_server, login_as, tenant
):
    login_as(page, tenant)
    page.goto(live_server.url)
    page.get_by_text("Menu").click()
    link = page.get_by_test_id("notifications-link")
    expect(link).to_be_visible()
    text = link.inner_text()
    # No character that needs an emoji font (the bell was U+1F514).
    assert all(ord(char) < 0x2190 for char in text), text
    icon = page.get_by_test_id("bell-icon")
    box = icon.bounding_box()
    assert 16 <= box["width"] <= 24 and 16 <= box["height"] <= 24
    # The icon draws something: dark pixels on the light menu.
    image = Image.open(io.BytesIO(icon.screenshot())).convert("L")
    dark = image.point(lambda value: 255 if value < 128 else 0).histogram()[255]
    assert dark > 20
