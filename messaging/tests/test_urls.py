"""Every messaging route, classified by who may use it (see nobroker/tests/roles.py)."""

import pytest

from messaging.tests.factories import ConversationFactory, MessageFactory
from nobroker.tests.roles import Route, cases, check

pytestmark = pytest.mark.django_db

# anonymous, tenant (who wrote), owner (of the listing), other owner, staff.
CONVERSATION = ["{conversation.pk}"]
MATRIX = {
    "inbox": Route("login", 200, 200, 200, 200),
    "unread": Route("login", 200, 200, 200, 200),
    "start": Route("login", 302, 302, 302, 302, args=["{listing.pk}"], post=True),
    "detail": Route("login", 200, 200, 404, 404, args=CONVERSATION),
    "since": Route(
        "login", 200, 200, 404, 404, args=["{conversation.pk}", "{message.pk}"]
    ),
    "before": Route(
        "login", 200, 200, 404, 404, args=["{conversation.pk}", "{message.pk}"]
    ),
    "block": Route("login", 302, 302, 404, 404, args=CONVERSATION, post=True),
    "unblock": Route("login", 302, 302, 404, 404, args=CONVERSATION, post=True),
    "report": Route("login", 200, 200, 404, 404, args=CONVERSATION),
}


@pytest.mark.parametrize(("name", "role"), cases(MATRIX))
def test_route_answers_each_role_as_classified(
    client, request, name, role, tenant, owner
):
    conversation = ConversationFactory(tenant=tenant, listing__owner=owner)
    message = MessageFactory(conversation=conversation)
    check(
        client,
        request,
        MATRIX,
        f"messaging:{name}",
        role,
        {
            "listing": conversation.listing,
            "conversation": conversation,
            "message": message,
        },
    )
