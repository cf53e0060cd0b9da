import unicodedata

from django.conf import settings
from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

nepali_phone_validator = RegexValidator(
    regex=r"^\+9779[78]\d{8}$",
    message=_(
        "Enter a Nepali mobile number: 10 digits starting 97 or 98, "
        "for example +977 9841234567."
    ),
)


# What people put between the digits of a number: spaces, dashes, dots, brackets.
PHONE_SEPARATORS = frozenset(" -.()/\u00a0\t")


def normalize_nepali_phone(value: str) -> str:
    """
    Turns a mobile number as people type it ('98412 34567', '+977-984-1234567',
    '00977 9841234567', Devanagari digits) into '+9779841234567'.

    Anything else (letters, a '+' inside the number, another country's code)
    comes back as typed, so the validator refuses it with its message.
    """
    typed = value.strip()
    digits, plus = [], False
    for position, char in enumerate(typed):
        if char in PHONE_SEPARATORS:
            continue
        if char == "+" and position == 0:
            plus = True
        elif unicodedata.decimal(char, None) is not None:
            digits.append(str(unicodedata.decimal(char)))
        else:
            return typed
    number = "".join(digits)
    if number.startswith("00977") and not plus:
        number = number[5:]
    elif number.startswith("977") and len(number) == 13:
        number = number[3:]
    elif plus:
        return typed
    return f"+977{number}" if number else ""


def format_nepali_phone(value: str) -> str:
    """'+9779841234567' as people read it: '+977 9841234567'."""
    if value.startswith("+977") and len(value) == 14:
        return f"+977 {value[4:]}"
    return value


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("email_verified", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        TENANT = "tenant", _("Tenant: I am looking for a place")
        OWNER = "owner", _("Owner: I have a place to rent out")

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=120)
    phone = models.CharField(
        _("mobile number"),
        max_length=14,
        blank=True,
        validators=[nepali_phone_validator],
        db_index=True,
        help_text=_("Optional. Shown to a tenant only once you confirm their visit."),
    )
    role = models.CharField(_("role"), max_length=10, choices=Role, default=Role.TENANT)
    email_verified = models.BooleanField(_("email verified"), default=False)
    is_trusted_owner = models.BooleanField(
        _("trusted owner"),
        default=False,
        help_text=_("Listings by a trusted owner publish without review."),
    )
    is_flagged = models.BooleanField(
        _("flagged for review"),
        default=False,
        help_text=_("Set when reports are upheld or a phone number is shared."),
    )
    flag_reason = models.CharField(_("flag reason"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("member since"), default=timezone.now)
    # The language the pages are shown in, remembered across devices; empty
    # until the person picks one (the browser's or the cookie's is used).
    language = models.CharField(
        _("language"), max_length=5, choices=settings.LANGUAGES, blank=True
    )
    calendar_bs_only = models.BooleanField(
        _("show dates in Bikram Sambat only"),
        default=False,
        help_text=_("Otherwise dates show in BS beside the AD date."),
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = self.email.lower()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("accounts:profile")

    @property
    def first_name(self) -> str:
        """What other users see of a person: the first word of the full name."""
        return self.full_name.split(" ", 1)[0] if self.full_name else ""

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.first_name

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    @property
    def is_tenant(self) -> bool:
        return self.role == self.Role.TENANT


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)

    def for_user(self, user):
        return self.filter(user=user)


class Notification(models.Model):
    """One line in a person's in-site notification list."""

    class Kind(models.TextChoices):
        VISIT_REQUEST = "visit_request", _("Visit request")
        VISIT_CONFIRMATION = "visit_confirmation", _("Visit confirmed")
        VISIT_DECLINE = "visit_decline", _("Visit declined")
        VISIT_PROPOSAL = "visit_proposal", _("Another time proposed")
        VISIT_CANCELLATION = "visit_cancellation", _("Visit cancelled")
        VISIT_REMINDER = "visit_reminder", _("Visit reminder")
        VISIT_FEEDBACK = "visit_feedback", _("How was the visit?")
        SAVED_SEARCH = "saved_search", _("New places for a saved search")

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind)
    text = models.CharField(_("text"), max_length=300)
    url = models.CharField(_("link"), max_length=300, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            )
        ]

    def __str__(self):
        return self.text

    @property
    def is_unread(self) -> bool:
        return self.read_at is None
