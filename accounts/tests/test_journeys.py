"""Journeys through sign-up, profile and account security in a real browser."""

import re

import pytest
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
