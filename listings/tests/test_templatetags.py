import pytest

from listings.templatetags.listings import floor_label, npr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (500, "Rs. 500"),
        (8500, "Rs. 8,500"),
        (25000, "Rs. 25,000"),
        (150000, "Rs. 1,50,000"),
        (1234567, "Rs. 12,34,567"),
        (10000000, "Rs. 1,00,00,000"),
        ("32000", "Rs. 32,000"),
        (None, ""),
        ("lots", ""),
    ],
)
def test_rupees_are_written_the_nepali_way(value, expected):
    assert npr(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "Ground floor"), (1, "1st floor"), (2, "2nd floor"), (11, "11th floor")],
)
def test_floors_are_named(value, expected):
    assert floor_label(value) == expected
