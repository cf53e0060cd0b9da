import functools
import re

from django.conf import settings
from django.db import models
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from listings.models import ListingPhoto
from nobroker import bsdate

MESSAGE_MAX_LENGTH = 2000
# A message's time as the conversation page writes it (`ad_bs` in its template:
# "Wed, 2 Dec · 9:27 PM (17 Mangsir BS)"), for the messages that reach an open
# page as JSON.
MESSAGE_TIME_FORMAT = "D, j M · g:i A"


def message_time(
    value, language: str | None = None, bs_only: bool | None = None
) -> str:
    """The time of a message in `language` and calendar choice (by default
    the active ones)."""
    return _message_time(
        value.replace(second=0, microsecond=0),
        language or translation.get_language(),
        bsdate.bs_only.get() if bs_only is None else bs_only,
    )


@functools.lru_cache(maxsize=4096)
def _message_time(minute, language: str | None, bs_only: bool) -> str:
    # Written once per minute, language and calendar choice: a chat message is
    # written for every socket it reaches, and the BS conversion is not cheap.
    token = bsdate.bs_only.set(bs_only)
    try:
        with translation.override(language):
            return bsdate.format_both(minute, MESSAGE_TIME_FORMAT, with_year=False)
    finally:
        bsdate.bs_only.reset(token)


# Words that ask for money up front, in English and romanised Nepali. Matching is
# deliberately loose: the result is a gentle reminder, never a block.
MONEY_REQUEST_PATTERN = re.compile(
    r"\b("
    r"advance|deposit first|pay first|payment first|booking (?:fee|amount|money)|"
    r"token (?:amount|money)|send (?:the )?money|transfer (?:the )?money|"
    r"e-?sewa|khalti|ime ?pay|fonepay|connect ?ips|"
    r"paisa (?:pathau|pathaunu|pathaideu|halnu|transfer)|"
    r"paila paisa|agadi nai paisa|advance ma"
    r")",
    re.IGNORECASE,
)


def asks_for_money(text: str) -> bool:
    """True when a message looks like a request for money (before any visit)."""
    return bool(MONEY_REQUEST_PATTERN.search(text))


class ConversationQuerySet(models.QuerySet):
    def for_user(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(tenant=user) | Q(owner=user))

    def with_unread_for(self, user):
        """Annotates `unread`: messages from the other person the user has not read."""
        read_up_to = models.Case(
            models.When(tenant=user, then=F("tenant_read_up_to")),
            default=F("owner_read_up_to"),
        )
        return self.alias(read_up_to=read_up_to).annotate(
            unread=Count(
                "messages",
                filter=Q(messages__id__gt=F("read_up_to")) & ~Q(messages__sender=user),
            )
        )

    def for_inbox(self, user):
        """Everything the inbox shows, in a fixed number of queries."""
        last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
        return (
            self.for_user(user)
            .with_unread_for(user)
            .annotate(
                last_body=Subquery(last.values("body")[:1]),
                last_sender_id=Subquery(last.values("sender_id")[:1]),
            )
            .select_related("listing", "tenant", "owner")
            .prefetch_related(
                Prefetch(
                    "listing__photos",
                    queryset=ListingPhoto.objects.filter(is_cover=True),
                    to_attr="cover_photos",
                )
            )
            .order_by(Coalesce("last_message_at", "created_at").desc(), "-id")
        )


class Conversation(models.Model):
    """The one conversation between a tenant and an owner about a listing."""

    listing = models.ForeignKey(
        "listings.Listing",
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("listing"),
    )
    tenant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tenant_conversations",
        verbose_name=_("tenant"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="owner_conversations",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    last_message_at = models.DateTimeField(
        _("last message"), null=True, blank=True, db_index=True
    )
    # The id of the newest message each side has seen: drives unread counts
    # and "seen" receipts without a row per message.
    tenant_read_up_to = models.BigIntegerField(default=0)
    owner_read_up_to = models.BigIntegerField(default=0)
    # When each side was last emailed about unread messages here.
    tenant_emailed_at = models.DateTimeField(null=True, blank=True)
    owner_emailed_at = models.DateTimeField(null=True, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner", "listing"],
                name="one_conversation_per_tenant_owner_listing",
            )
        ]

    def __str__(self):
        return f"{self.tenant} ↔ {self.owner} about {self.listing}"

    def get_absolute_url(self):
        return reverse("messaging:detail", kwargs={"pk": self.pk})

    @property
    def group_name(self) -> str:
        return f"conversation_{self.pk}"

    def has_participant(self, user) -> bool:
        return user.is_authenticated and user.pk in (self.tenant_id, self.owner_id)

    def other_participant(self, user):
        return self.owner if user.pk == self.tenant_id else self.tenant

    def other_participant_id(self, user) -> int:
        return self.owner_id if user.pk == self.tenant_id else self.tenant_id

    def read_up_to_for(self, user) -> int:
        return (
            self.tenant_read_up_to
            if user.pk == self.tenant_id
            else self.owner_read_up_to
        )

    def other_read_up_to(self, user) -> int:
        return (
            self.owner_read_up_to
            if user.pk == self.tenant_id
            else self.tenant_read_up_to
        )

    @property
    def cover_photo(self):
        """The listing's cover photo when the inbox prefetched it."""
        covers = getattr(self.listing, "cover_photos", None)
        return covers[0] if covers else None


class MessageQuerySet(models.QuerySet):
    def in_conversation(self, conversation):
        return self.filter(conversation=conversation)

    def unread_for(self, user, *, role: str):
        """
        Messages to the user not yet read, in the conversations where the user
        is the tenant (role="tenant") or the owner: one side at a time, so each
        count follows an index instead of scanning every message.
        """
        return self.filter(
            **{
                f"conversation__{role}": user,
                "id__gt": F(f"conversation__{role}_read_up_to"),
            }
        ).exclude(sender=user)

    def after(self, message_id: int):
        return self.filter(id__gt=message_id).order_by("id")

    def events(self, *, limit: int) -> list[dict]:
        """The first `limit` messages as the pages see them (`Message.as_event`)."""
        return [message.as_event() for message in self[:limit]]

    def latest_page(self, *, before: int | None = None, size: int = 30):
        """The `size` messages before `before` (or the newest), oldest first."""
        qs = self.order_by("-id")
        if before:
            qs = qs.filter(id__lt=before)
        return list(reversed(qs[:size]))


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sent_messages",
        verbose_name=_("sender"),
    )
    # Made by the sender's page: a resend of the same message finds this row
    # instead of storing a second copy.
    client_id = models.UUIDField(_("client id"))
    body = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH)
    asks_for_money = models.BooleanField(_("asks for money"), default=False)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="one_message_per_client_id"
            )
        ]
        indexes = [models.Index(fields=["conversation", "id"])]

    def __str__(self):
        return self.body[:60]

    def as_event(self) -> dict:
        """The JSON shape the pages and the websocket share; `time` is written
        in the active language (a socket rewrites it for its own page)."""
        local = timezone.localtime(self.created_at)
        return {
            "id": self.pk,
            "client_id": str(self.client_id),
            "sender_id": self.sender_id,
            "body": self.body,
            "asks_for_money": self.asks_for_money,
            "created_at": local.isoformat(),
            "time": message_time(local),
        }


class Block(models.Model):
    """One person no longer wants messages from another."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_made",
        verbose_name=_("blocked by"),
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_received",
        verbose_name=_("blocked person"),
    )
    created_at = models.DateTimeField(_("blocked on"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["blocker", "blocked"], name="one_block_per_pair"
            )
        ]

    def __str__(self):
        return f"{self.blocker} blocked {self.blocked}"

    @classmethod
    def between_queryset(cls, a_id: int, b_id: int):
        """Blocks in either direction between two people."""
        return cls.objects.filter(
            Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)
        )

    @classmethod
    def between(cls, a_id: int, b_id: int) -> bool:
        return cls.between_queryset(a_id, b_id).exists()


class ReportQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)


class Report(models.Model):
    class Reason(models.TextChoices):
        SCAM = "scam", _("Asks for money or looks like a scam")
        ABUSE = "abuse", _("Rude, abusive or threatening")
        SPAM = "spam", _("Spam or advertising")
        FAKE = "fake", _("The listing is fake or already rented")
        OTHER = "other", _("Something else")

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="reports",
        verbose_name=_("conversation"),
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversation_reports",
        verbose_name=_("reported by"),
    )
    reason = models.CharField(_("reason"), max_length=10, choices=Reason)
    details = models.TextField(_("details"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("reported"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    staff_note = models.TextField(_("staff note"), blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_reason_display()} – {self.conversation_id}"
