"""Mobile numbers as people in Nepal type them, on sign-up and the profile."""

import pytest
from django.urls import reverse

from accounts.forms import ProfileForm, SignUpForm
from accounts.models import User, normalize_nepali_phone
from conftest import PASSWORD

TYPED = [
    "9841234567",
    "+977 9841234567",
    "+977-984-1234567",
    "+9779841234567",
    "00977 9841234567",
    "00977-984-123-4567",
    "977 984 123 4567",
    " 984 123 4567 ",
    "(984) 123-4567",
    "९८४१२३४५६७",
    "+९७७ ९८४१२३४५६७",
]

REFUSED = [
    "98412345678",
    "984123456",
    "+91 9841234567",
    "+977 9641234567",
    "9841abc567",
    "98+41234567",
    "01-4412345",
]


@pytest.mark.parametrize("typed", TYPED)
def test_every_usual_way_of_writing_a_mobile_is_stored_one_way(typed):
    assert normalize_nepali_phone(typed) == "+9779841234567"


def _sign_up_data(phone):
    return {
        "full_name": "Pooja Gurung",
        "email": "pooja@example.np",
        "phone": phone,
        "role": "tenant",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("typed", TYPED)
def test_sign_up_form_accepts_the_number_as_typed(typed):
    form = SignUpForm(_sign_up_data(typed))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+9779841234567"


@pytest.mark.django_db
@pytest.mark.parametrize("typed", REFUSED)
def test_sign_up_form_refuses_other_numbers_with_a_clear_message(typed):
    form = SignUpForm(_sign_up_data(typed))
    assert not form.is_valid()
    assert form.errors["phone"] == [
        "Enter a Nepali mobile number: 10 digits starting 97 or 98, "
        "for example +977 9841234567."
    ]


@pytest.mark.parametrize("form_class", [SignUpForm, ProfileForm])
def test_phone_input_leaves_room_for_the_prefix_spaces_and_dashes(form_class):
    widget = form_class().fields["phone"].widget
    html = str(form_class()["phone"])
    assert widget.input_type == "tel"
    assert 'inputmode="tel"' in html
    longest = max(len(typed) for typed in TYPED)
    assert int(widget.attrs["maxlength"]) >= max(longest, len("00977 - 984 - 1234567"))


@pytest.mark.django_db
def test_profile_shows_the_stored_number_readably_and_keeps_it(client, tenant):
    User.objects.filter(pk=tenant.pk).update(phone="+9779841234567")
    client.force_login(tenant)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert 'value="+977 9841234567"' in page

    response = client.post(
        reverse("accounts:profile"),
        {
            "full_name": tenant.full_name,
            "email": tenant.email,
            "phone": "+977-980-1234567",
            "role": "tenant",
        },
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.phone == "+9779801234567"


@pytest.mark.django_db
def test_sign_up_through_the_page_stores_the_forms_own_example(client):
    response = client.post(reverse("accounts:signup"), _sign_up_data("+977 9841234567"))
    assert response.status_code == 302
    assert User.objects.get(email="pooja@example.np").phone == "+9779841234567"


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["984-123-4567", "+977 9841234567", "9841234567"])
def test_staff_find_an_account_by_the_number_as_they_type_it(client, staff, typed):
    from accounts.tests.factories import UserFactory

    UserFactory(full_name="Mina Rai", phone="+9779841234567")
    UserFactory(full_name="Other Person", phone="+9779801111111")
    client.force_login(staff)
    html = client.get(
        reverse("admin:accounts_user_changelist"), {"q": typed}
    ).content.decode()
    assert "Mina Rai" in html
    assert "Other Person" not in html


def test_the_admin_phone_field_takes_the_number_as_typed(rf, staff):
    from django.contrib import admin

    from accounts.admin import UserAdmin
    from accounts.forms import NepaliMobileField

    request = rf.get("/")
    request.user = staff
    form = UserAdmin(User, admin.site).get_form(request, obj=staff)
    field = form().fields["phone"]
    assert isinstance(field, NepaliMobileField)
    assert field.clean("+977 984-123-4567") == "+9779841234567"
