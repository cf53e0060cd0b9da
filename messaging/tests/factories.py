import uuid
from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from listings.models import Listing, Locality
from messaging.models import Conversation, Message


def a_locality() -> Locality:
    # Loaded by a migration, but a transactional test flushes it: make sure.
    locality, _created = Locality.objects.get_or_create(
        slug="baneshwor",
        defaults={
            "name": "Baneshwor",
            "district": Locality.District.KATHMANDU,
            "latitude": Decimal("27.68910"),
            "longitude": Decimal("85.34200"),
        },
    )
    return locality


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    owner = factory.SubFactory(UserFactory, role="owner")
    title = factory.Sequence(lambda n: f"Sunny 2BHK flat near Baneshwor chowk {n}")
    description = "Two bedrooms, a kitchen and a balcony with a view of the hills."
    property_type = Listing.PropertyType.FLAT
    locality = factory.LazyFunction(a_locality)
    rent = 25000
    bike_parking = 2
    car_parking = 0
    water_source = Listing.WaterSource.MIXED
    water_hours = 6
    electricity_billing = Listing.ElectricityBilling.SUBMETER
    status = Listing.Status.PUBLISHED


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
