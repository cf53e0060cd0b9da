import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from messaging.models import Conversation
from messaging.tests.factories import (
    ConversationFactory,
    ListingFactory,
    MessageFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def logged_in_page(browser, browser_context_args, server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(**browser_context_args)
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": server.url,
            }
        ]
    )
    return context.new_page()


def test_tenant_and_owner_chat_live_with_seen_mark(
    browser, browser_context_args, asgi_live_server, tenant, owner
):
    server = asgi_live_server
    listing = ListingFactory(owner=owner, title="Bright flat in Jhamsikhel")
    tenant_page = logged_in_page(browser, browser_context_args, server, tenant)
    owner_page = logged_in_page(browser, browser_context_args, server, owner)

    # The owner is somewhere else on the site; the header badge is live there.
    owner_page.goto(f"{server.url}/messages/")
    expect(owner_page.get_by_text("No messages yet")).to_be_visible()

    # The tenant writes from the listing.
    tenant_page.goto(f"{server.url}{listing.get_absolute_url()}")
    expect(tenant_page.get_by_role("heading", name=listing.title)).to_be_visible()
    tenant_page.goto(f"{server.url}/messages/start/{listing.pk}/")
    tenant_page.get_by_role("button", name="Message owner").click()
    expect(tenant_page.get_by_role("heading", name=owner.first_name)).to_be_visible()
    tenant_page.get_by_label("Your message").fill("Namaste! Is the flat still free?")
    tenant_page.get_by_role("button", name="Send").click()
    expect(tenant_page.locator(".msg--mine[data-id]:not([data-id=''])")).to_have_count(
        1
    )

    expect(owner_page.locator("[data-unread-number]")).to_have_text("1")
    conversation = Conversation.objects.get()

    # The owner opens the conversation, then sees the next message arrive live.
    owner_page.goto(f"{server.url}{conversation.get_absolute_url()}")
    expect(owner_page.get_by_text("Is the flat still free?")).to_be_visible()
    expect(owner_page.locator("[data-chat][data-live]")).to_be_attached()
    expect(tenant_page.locator("[data-chat][data-live]")).to_be_attached()
    tenant_page.get_by_label("Your message").fill("Can I visit on Saturday?")
    tenant_page.keyboard.press("Enter")
    expect(owner_page.get_by_text("Can I visit on Saturday?")).to_be_visible()

    owner_page.get_by_label("Your message").fill("Yes, come at 10 AM.")
    owner_page.get_by_role("button", name="Send").click()

    expect(tenant_page.get_by_text("Yes, come at 10 AM.")).to_be_visible()
    seen = tenant_page.locator(".msg--mine", has_text="Can I visit on Saturday?")
    expect(seen.locator("[data-seen-mark]")).to_be_visible()
    assert conversation.messages.count() == 3


def test_live_badge_and_message_time_on_a_nepali_page_in_nepali_digits(
    browser, browser_context_args, asgi_live_server, tenant, owner
):
    server = asgi_live_server
    tenant.language = "ne"
    tenant.save(update_fields=["language"])
    conversation = ConversationFactory(
        listing=ListingFactory(owner=owner), tenant=tenant
    )
    MessageFactory(conversation=conversation, body="Namaste")
    tenant_page = logged_in_page(browser, browser_context_args, server, tenant)
    owner_page = logged_in_page(browser, browser_context_args, server, owner)
    owner_page.goto(f"{server.url}{conversation.get_absolute_url()}")
    expect(owner_page.locator("[data-chat][data-live]")).to_be_attached()

    # Elsewhere on the site, the header badge counts up live in Nepali digits.
    tenant_page.goto(f"{server.url}/messages/")
    expect(tenant_page.locator("html")).to_have_attribute("lang", "ne")
    tenant_page.wait_for_load_state("networkidle")
    for n, text in enumerate(["Are you coming?", "It is free."], start=1):
        owner_page.get_by_label("Your message").fill(text)
        owner_page.keyboard.press("Enter")
        expect(
            owner_page.locator(".msg--mine[data-id]:not([data-id=''])", has_text=text)
        ).to_be_visible()
        badge = tenant_page.locator("[data-unread-badge]")
        expect(badge).to_have_attribute("data-count", str(n))
        expect(badge.locator("[data-unread-number]")).to_have_text("०१२"[n])

    # In the conversation, a message arriving live shows its time as the page
    # writes the others: Nepali words and digits, the BS date.
    tenant_page.goto(f"{server.url}{conversation.get_absolute_url()}")
    expect(tenant_page.locator("[data-chat][data-live]")).to_be_attached()
    owner_page.get_by_label("Your message").fill("Come at ten.")
    owner_page.keyboard.press("Enter")
    live = tenant_page.locator(".msg--theirs", has_text="Come at ten.")
    expect(live).to_be_visible()
    live_time = live.locator("time").text_content()
    assert re.search("[०-९]", live_time) and not re.search("[0-9]", live_time)
    assert "वि.सं." in live_time
    # The owner's English page has the same message in English.
    mine = owner_page.locator(
        ".msg--mine[data-id]:not([data-id=''])", has_text="Come at ten."
    )
    expect(mine.locator("time")).to_have_text(re.compile(r"[0-9]{1,2}:[0-9]{2} [AP]M"))
    # Exactly as the server writes it when the page is loaded again.
    tenant_page.reload()
    again = tenant_page.locator(".msg--theirs", has_text="Come at ten.")
    expect(again.locator("time")).to_have_text(live_time)
