"""
Numbers as a person reads them: Devanagari digits on a Nepali page (with the
Nepali grouping, १२,३४,५६७, where numbers are grouped), the text unchanged in
English. Every number a page shows goes through `shown` (templates: the
builtin filters `digits` and `intcomma` of nobroker/template_filters.py);
numbers a machine reads (URLs, form values, `data-` attributes, JSON) do not.

A whole number stays a number: `shown(5)` is an `int` that prints as "५", so
it also works as the count of `{% blocktranslate count n=x|intcomma %}`
(plural forms need a number) and prints there as the page shows it.
"""

from decimal import Decimal, InvalidOperation

from django.utils.formats import number_format

from nobroker.bsdate import is_nepali, localise_digits, nepali_digits


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


class Shown(int):
    """A whole number that prints as the page shows it. Arithmetic and
    comparisons are an int's (and give plain ints).

    `{{ n }}` prints its text because Django localises an int without
    thousands separators by taking its text as it is (USE_THOUSAND_SEPARATOR
    stays off; tests/test_numbers.py renders both ways)."""

    def __new__(cls, value: int, text: str):
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        return self.text

    def __reduce__(self):
        return (Shown, (int(self), self.text))


def _number(value) -> int | Decimal | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        return int(number) if number == number.to_integral_value() else number
    return None


def shown(value, *, grouped: bool = False):
    """`value` as the page shows it: a `Shown` for a whole number, text for
    any other number or text, None unchanged; `grouped` puts in thousands
    separators (Nepali grouping on a Nepali page)."""
    number = _number(value)
    if number is None:
        # Words and figures such as "12.5%" keep their text, in the page's digits.
        return localise_digits(value) if isinstance(value, str) else value
    nepali = is_nepali()
    if grouped and not nepali:
        text = number_format(number, use_l10n=True, force_grouping=True)
    elif grouped:
        plain = f"{number}" if isinstance(number, int) else f"{Decimal(str(number)):f}"
        whole, _, fraction = plain.partition(".")
        text = nepali_grouping(int(whole)) + (f".{fraction}" if fraction else "")
        if whole == "-0":
            text = "-" + text
    else:
        text = str(value) if isinstance(value, str) else f"{number}"
    if nepali:
        text = nepali_digits(text)
    if isinstance(number, int):
        return Shown(number, text)
    return text
