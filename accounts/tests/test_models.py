import pytest
from django.core.exceptions import ValidationError

from accounts.models import User, normalize_nepali_phone
from accounts.tests.factories import UserFactory


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("9841234567", "+9779841234567"),
        ("+977 984-123-4567", "+9779841234567"),
        ("00977 9761234567", "+9779761234567"),
        ("977 9851234567", "+9779851234567"),
        ("", ""),
    ],
)
def test_phone_numbers_are_stored_in_one_format(typed, stored):
    assert normalize_nepali_phone(typed) == stored


@pytest.mark.django_db
@pytest.mark.parametrize("phone", ["+9771234567890", "+97798412345", "+9779641234567"])
def test_phone_must_be_a_nepali_mobile(phone):
    user = UserFactory.build(phone=phone)
    with pytest.raises(ValidationError) as error:
        user.full_clean()
    assert "phone" in error.value.message_dict


@pytest.mark.django_db
def test_email_is_the_login_and_is_case_insensitive():
    user = User.objects.create_user(
        email="Ram@Example.NP", full_name="Ram Thapa", password="x-Strong-9"
    )
    assert user.email == "ram@example.np"
    assert User.objects.get_by_natural_key("RAM@example.np") == user


@pytest.mark.django_db
def test_others_see_only_the_first_name():
    user = UserFactory(full_name="Sita Kumari Shrestha")
    assert user.first_name == "Sita"
