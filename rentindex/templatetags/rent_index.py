from django import template

from listings.formatting import npr
from rentindex import services

register = template.Library()


@register.simple_tag
def rent_comparison(listing) -> str:
    """The listing's rent against its group's median, as a sentence; '' without
    a published figure."""
    return services.rent_sentence(listing)


@register.filter
def rupees(value) -> str:
    return npr(value)
