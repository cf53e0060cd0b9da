from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import (
    AuthenticationForm,
    BaseUserCreationForm,
    PasswordChangeForm,
    PasswordResetForm,
)
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    User,
    format_nepali_phone,
    nepali_phone_validator,
    normalize_nepali_phone,
)
from accounts.tasks import send_password_reset


class NepaliMobileField(forms.CharField):
    """
    A mobile number as people type it, cleaned to the stored form
    (+9779841234567). The field is longer than what is stored, so spaces,
    dashes and a +977 or 00977 prefix fit while typing.
    """

    default_validators = [nepali_phone_validator]

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "type": "tel",
                    "autocomplete": "tel",
                    "inputmode": "tel",
                    "placeholder": "+977 98XXXXXXXX",
                }
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return normalize_nepali_phone(super().to_python(value))

    def prepare_value(self, value):
        return format_nepali_phone(value) if isinstance(value, str) else value


def mobile_field() -> NepaliMobileField:
    phone = User._meta.get_field("phone")
    return NepaliMobileField(
        label=capfirst(phone.verbose_name),
        help_text=phone.help_text,
        required=not phone.blank,
    )


class EmailCleanMixin:
    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        taken = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                _(
                    "An account with this email already exists. Log in or reset your password."
                ),
                code="taken",
            )
        return email


class SignUpForm(EmailCleanMixin, BaseUserCreationForm):
    phone = mobile_field()
    role = forms.ChoiceField(
        label=_("I am"),
        choices=User.Role.choices,
        widget=forms.RadioSelect,
        initial=User.Role.TENANT,
    )

    class Meta:
        model = User
        fields = ("full_name", "email", "phone", "role")
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        }

    def clean(self):
        cleaned_data = super().clean()
        if self.has_error("email", code="taken"):
            # Hashes the password a new account would store, so an address that
            # has an account answers as slowly as one that gets a new account.
            make_password(cleaned_data.get("password1") or "")
        return cleaned_data


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        "invalid_login": _(
            "That email and password do not match an account. Check both and try "
            "again, or reset your password."
        ),
        "inactive": _("This account is inactive."),
    }


class ProfileForm(EmailCleanMixin, forms.ModelForm):
    phone = mobile_field()

    class Meta:
        model = User
        fields = ("full_name", "email", "phone", "role", "language", "calendar_bs_only")
        widgets = {"role": forms.RadioSelect}
        labels = {"role": _("I am")}


def password_is_right(request, user: User, password: str) -> bool:
    """
    Checks the password of a signed-in person the way logging in does: through
    the authentication backends, so a wrong one counts towards the account's
    lockout (accounts/lockout.py) and a locked account is refused even with the
    right one. Whoever holds a session cannot guess the password indefinitely.
    """
    found = authenticate(request, username=user.get_username(), password=password)
    return found is not None and found.pk == user.pk


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, request, **kwargs):
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not password_is_right(self.request, self.user, password):
            raise ValidationError(_("That password is not right."))
        return password


class CountedPasswordChangeForm(PasswordChangeForm):
    """Django's password change, its current password checked as a login is."""

    def __init__(self, user, *args, request, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        if not password_is_right(self.request, self.user, old_password):
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form; the lookup and the email happen in a task."""

    def save(self, **kwargs):
        send_password_reset.enqueue(email=self.cleaned_data["email"])
