import uuid

import factory

from accounts.tests.factories import UserFactory
from listings.tests import factories as listings_factories
from messaging.models import Conversation, Message


class ListingFactory(listings_factories.ListingFactory):
    """A published flat in New Baneshwor."""

    title = factory.Sequence(lambda n: f"Sunny 2BHK flat near Baneshwor chowk {n}")
    locality = factory.LazyFunction(
        lambda: listings_factories.locality("new-baneshwor")
    )


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    listing = factory.SubFactory(ListingFactory)
    tenant = factory.SubFactory(UserFactory, role="tenant")
    owner = factory.LazyAttribute(lambda o: o.listing.owner)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = factory.LazyAttribute(lambda o: o.conversation.tenant)
    client_id = factory.LazyFunction(uuid.uuid4)
    body = factory.Sequence(lambda n: f"Is the flat still available? ({n})")
