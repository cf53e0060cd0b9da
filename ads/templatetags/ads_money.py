from django import template

from ads.services import npr_paisa

register = template.Library()


@register.filter
def paisa(value) -> str:
    """Paisa as rupees the Nepali way: 150000050 → 'Rs. 15,00,000.50'."""
    try:
        return npr_paisa(int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key) or {}
