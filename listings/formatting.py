"""Numbers written the way Nepal writes them."""

from django.utils.translation import gettext as _

from nobroker.bsdate import localise_digits


def nepali_grouping(number: int) -> str:
    """1500000 → '15,00,000': the last three digits, then groups of two."""
    digits = str(abs(int(number)))
    if len(digits) <= 3:
        grouped = digits
    else:
        head, tail = digits[:-3], digits[-3:]
        pairs = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        if head:
            pairs.insert(0, head)
        grouped = ",".join([*pairs, tail])
    return f"-{grouped}" if int(number) < 0 else grouped


def npr(value) -> str:
    """Rupees the Nepali way: 150000 → 'Rs. 1,50,000' (रु. १,५०,००० on a
    Nepali page); '' for a non-number."""
    try:
        grouped = localise_digits(nepali_grouping(int(value)))
    except (TypeError, ValueError):
        return ""
    return _("Rs. %(amount)s") % {"amount": grouped}
