"""Numbers written the way Nepal writes them."""

from django.utils.translation import gettext as _

from nobroker.bsdate import localise_digits
from nobroker.numbers import nepali_grouping

__all__ = ["nepali_grouping", "npr"]


def npr(value) -> str:
    """Rupees the Nepali way: 150000 → 'Rs. 1,50,000' (रु. १,५०,००० on a
    Nepali page); '' for a non-number."""
    try:
        grouped = localise_digits(nepali_grouping(int(value)))
    except (TypeError, ValueError):
        return ""
    return _("Rs. %(amount)s") % {"amount": grouped}
