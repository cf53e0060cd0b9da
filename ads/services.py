"""Every write of the ads business: campaigns, creatives, boosts, money, counts."""

import io
import logging
import math
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from accounts.emails import send_templated_email
from accounts.models import User
from ads.models import (
    COUNT_FIELDS,
    MILLI,
    Advertiser,
    Boost,
    Campaign,
    Creative,
    DailyStat,
    LedgerEntry,
    creative_upload_to,
)
from ads.placements import IMAGE_SIZES
from listings.models import Listing
from listings.photos import encode_photo
from nobroker import counting
from nobroker.bsdate import localise_digits

logger = logging.getLogger(__name__)

VAT_PERCENT = 13
BOOST_PRICE_PER_DAY = 150 * 100  # paisa: Rs. 150 a day
WEBP_QUALITY = 82


def _republish() -> None:
    """Rebuilds the serving index once the change is committed."""
    from ads.serving import index_rebuild

    transaction.on_commit(index_rebuild)


# --- Advertisers -------------------------------------------------------------------


@transaction.atomic
def advertiser_join(*, user: User, form) -> Advertiser:
    """Makes the user an advertiser (or saves their business details again)."""
    advertiser = form.save(commit=False)
    advertiser.user = user
    advertiser.save()
    return advertiser


# --- Money -------------------------------------------------------------------------


def _locked(advertiser: Advertiser) -> Advertiser:
    """The advertiser's row, locked until the transaction ends: one debit at a time."""
    return Advertiser.objects.select_for_update().get(pk=advertiser.pk)


def _credit(advertiser: Advertiser, *, kind: str, amount: int, **fields) -> LedgerEntry:
    return LedgerEntry.objects.create(
        advertiser=advertiser, kind=kind, amount=amount, **fields
    )


def _debit(
    advertiser: Advertiser, *, kind: str, amount: int, partial: bool = False, **fields
) -> LedgerEntry | None:
    """
    Takes `amount` paisa from the balance, checked under the advertiser's row
    lock so two debits can never both spend the same rupee. With `partial`, takes
    what there is; otherwise refuses a debit larger than the balance.
    """
    _locked(advertiser)
    balance = LedgerEntry.objects.balance_of(advertiser)
    if amount > balance:
        if not partial:
            raise ValidationError(
                _("The balance is %(balance)s; this needs %(amount)s.")
                % {"balance": npr_paisa(balance), "amount": npr_paisa(amount)}
            )
        amount = max(balance, 0)
    if amount <= 0:
        return None
    return LedgerEntry.objects.create(
        advertiser=advertiser, kind=kind, amount=-amount, **fields
    )


def npr_paisa(paisa: int) -> str:
    from listings.formatting import nepali_grouping

    rupees, rest = divmod(abs(int(paisa)), 100)
    sign = "-" if paisa < 0 else ""
    amount = nepali_grouping(rupees) + (f".{rest:02d}" if rest else "")
    return sign + _("Rs. %(amount)s") % {"amount": localise_digits(amount)}


def vat_split(gross: int) -> tuple[int, int]:
    """A payment that includes 13 % VAT → (amount before VAT, VAT), in paisa."""
    net = round(gross * 100 / (100 + VAT_PERCENT))
    return net, gross - net


@transaction.atomic
def ledger_topup(
    *, advertiser: Advertiser, paid: int, reference: str, staff: User | None = None
) -> LedgerEntry:
    """
    Records a payment received (paisa, VAT included): the amount before VAT
    is credited, the VAT kept on the row for the receipt. The one way money
    comes in, so a payment gateway calls this too.
    """
    reference = reference.strip()
    if paid <= 0:
        raise ValidationError(_("A top-up must be more than zero."))
    if not reference:
        raise ValidationError(_("Give the payment reference."))
    _locked(advertiser)
    net, vat = vat_split(paid)
    entry = _credit(
        advertiser,
        kind=LedgerEntry.Kind.TOPUP,
        amount=net,
        vat=vat,
        reference=reference[:200],
        created_by=staff,
    )
    Advertiser.objects.filter(pk=advertiser.pk).update(low_balance_notified_at=None)
    # Campaigns that stopped for want of money run again.
    Campaign.objects.filter(
        advertiser=advertiser,
        status=Campaign.Status.PAUSED,
        pause_reason=Campaign.PauseReason.BALANCE,
    ).update(status=Campaign.Status.RUNNING, pause_reason="")
    _republish()
    return entry


@transaction.atomic
def ledger_adjust(
    *, advertiser: Advertiser, amount: int, reason: str, staff: User
) -> LedgerEntry:
    """A correction by staff, with its reason; a debit never makes the balance negative."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Say why the balance is adjusted."))
    if amount == 0:
        raise ValidationError(_("An adjustment must not be zero."))
    if amount > 0:
        entry = _credit(
            advertiser,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount=amount,
            reference=reason[:200],
            created_by=staff,
        )
    else:
        entry = _debit(
            advertiser,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount=-amount,
            reference=reason[:200],
            created_by=staff,
        )
    _republish()
    return entry


# --- Campaigns ---------------------------------------------------------------------


@transaction.atomic
def campaign_create(*, advertiser: Advertiser, form) -> Campaign:
    campaign = form.save(commit=False)
    campaign.advertiser = advertiser
    campaign.status = Campaign.Status.DRAFT
    campaign.save()
    form.save_m2m()
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, form) -> Campaign:
    """Saves edits; a rejected campaign that is edited becomes a draft again."""
    if not campaign.is_editable:
        raise ValidationError(_("Only a draft or a rejected campaign can be edited."))
    campaign = form.save(commit=False)
    campaign.status = Campaign.Status.DRAFT
    campaign.save()
    form.save_m2m()
    return campaign


def creative_images(data: bytes, name: str = "") -> dict[str, bytes]:
    """
    The picture cut to every placement's size, as clean WebP: checked and
    re-encoded exactly as listing photos are (upright, no EXIF or GPS).
    """
    clean = Image.open(io.BytesIO(encode_photo(data, name).large))
    clean.load()
    out = {}
    for size, (width, height) in IMAGE_SIZES.items():
        fitted = ImageOps.fit(clean, (width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        fitted.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
        out[size] = buffer.getvalue()
    return out


@transaction.atomic
def creative_add(*, campaign: Campaign, form, image: bytes) -> Creative:
    """Adds an ad to a campaign that can still be edited, with its renditions."""
    if not campaign.is_editable:
        raise ValidationError(_("Creatives can be added only to a draft campaign."))
    creative = form.save(commit=False)
    creative.campaign = campaign
    names = {}
    for size, data in creative_images(image).items():
        names[size] = default_storage.save(
            creative_upload_to(creative, f"{size}.webp"), ContentFile(data)
        )
    creative.images = names
    creative.save()
    if campaign.status == Campaign.Status.REJECTED:
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.DRAFT)
    return creative


@transaction.atomic
def creative_delete(*, creative: Creative) -> None:
    if not creative.campaign.is_editable:
        raise ValidationError(_("Only a draft campaign's creatives can be deleted."))
    names = list(creative.images.values())
    if creative.stats.exists():
        raise ValidationError(_("This creative has been shown; it stays on record."))
    creative.delete()
    transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


@transaction.atomic
def campaign_submit(*, campaign: Campaign) -> Campaign:
    """Sends a draft to staff review; it needs at least one creative."""
    if not campaign.can_be_submitted:
        raise ValidationError(_("This campaign cannot be submitted in its state."))
    if not campaign.creatives.exists():
        raise ValidationError(_("Add at least one creative before submitting."))
    if campaign.ends_at <= timezone.now():
        raise ValidationError(_("The schedule is already over; choose new dates."))
    campaign.status = Campaign.Status.REVIEW
    campaign.submitted_at = timezone.now()
    campaign.rejection_reason = ""
    campaign.save(
        update_fields=["status", "submitted_at", "rejection_reason", "updated_at"]
    )
    return campaign


def _email_advertiser(campaign: Campaign, template: str, **context) -> None:
    send_templated_email(
        to=campaign.advertiser.user.email,
        template=f"ads/emails/{template}",
        context={"campaign": campaign, "advertiser": campaign.advertiser, **context},
    )


@transaction.atomic
def campaign_approve(*, campaign: Campaign, staff: User) -> Campaign:
    """Staff approval: running at once when its schedule has begun."""
    if campaign.status != Campaign.Status.REVIEW:
        raise ValidationError(_("Only a campaign in review can be approved."))
    now = timezone.now()
    campaign.status = (
        Campaign.Status.RUNNING
        if campaign.starts_at <= now
        else Campaign.Status.APPROVED
    )
    campaign.reviewed_at = now
    campaign.reviewed_by = staff
    campaign.save(update_fields=["status", "reviewed_at", "reviewed_by", "updated_at"])
    _email_advertiser(campaign, "approved")
    _republish()
    return campaign


@transaction.atomic
def campaign_reject(*, campaign: Campaign, staff: User, reason: str) -> Campaign:
    """Staff rejection with the reason the advertiser receives by email."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give the advertiser a reason for the rejection."))
    if campaign.status != Campaign.Status.REVIEW:
        raise ValidationError(_("Only a campaign in review can be rejected."))
    campaign.status = Campaign.Status.REJECTED
    campaign.rejection_reason = reason
    campaign.reviewed_at = timezone.now()
    campaign.reviewed_by = staff
    campaign.save(
        update_fields=[
            "status",
            "rejection_reason",
            "reviewed_at",
            "reviewed_by",
            "updated_at",
        ]
    )
    _email_advertiser(campaign, "rejected", reason=reason)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, by_staff: bool = False) -> Campaign:
    if not campaign.can_be_paused:
        raise ValidationError(_("Only a running or approved campaign can be paused."))
    campaign.status = Campaign.Status.PAUSED
    campaign.pause_reason = (
        Campaign.PauseReason.STAFF if by_staff else Campaign.PauseReason.ADVERTISER
    )
    campaign.save(update_fields=["status", "pause_reason", "updated_at"])
    _republish()
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, by_staff: bool = False) -> Campaign:
    """Runs a paused campaign again; one paused by staff only staff may resume."""
    if not campaign.can_be_resumed:
        raise ValidationError(_("Only a paused campaign can be resumed."))
    if campaign.pause_reason == Campaign.PauseReason.STAFF and not by_staff:
        raise ValidationError(_("Staff paused this campaign; write to us to resume."))
    if campaign.pause_reason == Campaign.PauseReason.BALANCE:
        balance = LedgerEntry.objects.balance_of(campaign.advertiser)
        if balance * MILLI < campaign.unit_cost_milli:
            raise ValidationError(_("Top up your balance first."))
    if campaign.ends_at <= timezone.now():
        raise ValidationError(
            _("The schedule is over; duplicate the campaign instead.")
        )
    campaign.status = (
        Campaign.Status.RUNNING
        if campaign.starts_at <= timezone.now()
        else Campaign.Status.APPROVED
    )
    campaign.pause_reason = ""
    campaign.save(update_fields=["status", "pause_reason", "updated_at"])
    _republish()
    return campaign


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign) -> Campaign:
    """A new draft with the same settings and creatives (pictures copied)."""
    now = timezone.now()
    length = campaign.ends_at - campaign.starts_at
    starts = max(campaign.starts_at, now)
    copy = Campaign.objects.create(
        advertiser=campaign.advertiser,
        name=(_("Copy of %(name)s") % {"name": campaign.name})[:120],
        placements=list(campaign.placements),
        property_types=list(campaign.property_types),
        rent_min=campaign.rent_min,
        rent_max=campaign.rent_max,
        starts_at=starts,
        ends_at=starts + length,
        total_budget=campaign.total_budget,
        daily_budget=campaign.daily_budget,
        price_model=campaign.price_model,
        price=campaign.price,
        frequency_cap=campaign.frequency_cap,
    )
    copy.localities.set(campaign.localities.all())
    for creative in campaign.creatives.all():
        names = {}
        for size, name in creative.images.items():
            with default_storage.open(name) as source:
                names[size] = default_storage.save(
                    creative_upload_to(creative, name), ContentFile(source.read())
                )
        Creative.objects.create(
            campaign=copy,
            headline=creative.headline,
            text=creative.text,
            target_url=creative.target_url,
            display_domain=creative.display_domain,
            alt_text=creative.alt_text,
            images=names,
        )
    return copy


@transaction.atomic
def campaigns_advance(*, now: datetime | None = None) -> int:
    """
    Moves campaigns along their lifecycle: approved ones start at their time;
    running, paused or approved ones end when their schedule is over or their
    total budget cannot pay for one more click or thousand impressions.
    """
    now = now or timezone.now()
    changed = Campaign.objects.filter(
        status=Campaign.Status.APPROVED, starts_at__lte=now, ends_at__gt=now
    ).update(status=Campaign.Status.RUNNING)
    live = [Campaign.Status.APPROVED, Campaign.Status.RUNNING, Campaign.Status.PAUSED]
    changed += Campaign.objects.filter(status__in=live, ends_at__lte=now).update(
        status=Campaign.Status.ENDED, ended_reason="schedule"
    )
    spent = dict(
        DailyStat.objects.filter(campaign__status__in=live)
        .values("campaign_id")
        .annotate(s=Sum("spend_milli"))
        .values_list("campaign_id", "s")
    )
    for campaign in Campaign.objects.filter(pk__in=list(spent)):
        left = campaign.total_budget * MILLI - (spent[campaign.pk] or 0)
        if left < campaign.unit_cost_milli:
            campaign.status = Campaign.Status.ENDED
            campaign.ended_reason = "budget"
            campaign.save(update_fields=["status", "ended_reason", "updated_at"])
            changed += 1
    return changed


# --- Boosts ------------------------------------------------------------------------


@transaction.atomic
def boost_buy(*, owner: User, listing: Listing, days: int) -> Boost:
    """The owner pays from their balance to feature their published listing."""
    if listing.owner_id != owner.pk:
        raise ValidationError(_("Only the owner can boost a listing."))
    if not listing.is_published:
        raise ValidationError(_("Only a published listing can be boosted."))
    if not 1 <= days <= 30:
        raise ValidationError(_("Boost for 1 to 30 days."))
    advertiser = getattr(owner, "advertiser", None)
    if advertiser is None:
        raise ValidationError(_("Set up your business account first."))
    if Boost.objects.active().filter(listing=listing).exists():
        raise ValidationError(_("This listing is already boosted."))
    now = timezone.now()
    boost = Boost.objects.create(
        listing=listing,
        advertiser=advertiser,
        days=days,
        price_per_day=BOOST_PRICE_PER_DAY,
        starts_at=now,
        ends_at=now + timedelta(days=days),
    )
    _debit(
        advertiser,
        kind=LedgerEntry.Kind.BOOST,
        amount=days * BOOST_PRICE_PER_DAY,
        boost=boost,
        reference=listing.title[:200],
    )
    _republish()
    return boost


@transaction.atomic
def boosts_settle(*, now: datetime | None = None) -> int:
    """
    Ends boosts whose days are over, and boosts of listings no longer
    published (rented, archived), refunding each whole day not yet begun.
    """
    now = now or timezone.now()
    ended = 0
    due = (
        Boost.objects.active()
        .select_related("listing", "advertiser")
        .select_for_update(of=("self",))
    )
    for boost in due:
        if boost.ends_at <= now:
            boost.status = Boost.Status.ENDED
            boost.ended_reason = "days over"
            boost.save(update_fields=["status", "ended_reason"])
            ended += 1
            continue
        if boost.listing.status == Listing.Status.PUBLISHED:
            continue
        used = math.ceil((now - boost.starts_at) / timedelta(days=1))
        unused = max(boost.days - max(used, 1), 0)
        boost.status = Boost.Status.ENDED
        boost.ended_reason = boost.listing.get_status_display()
        boost.refunded_days = unused
        boost.save(update_fields=["status", "ended_reason", "refunded_days"])
        if unused:
            _credit(
                boost.advertiser,
                kind=LedgerEntry.Kind.REFUND,
                amount=unused * boost.price_per_day,
                boost=boost,
                reference=_("%(n)s unused boost days") % {"n": unused},
            )
        ended += 1
    if ended:
        _republish()
    return ended


# --- Counting: the shared machinery's flush lands here ------------------------------


def _parse_key(key: str) -> tuple[int, int, str, str] | None:
    parts = key.split(":")
    try:
        campaign_id, creative_id = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return None
    placement = parts[2] if len(parts) > 2 else ""
    counter = parts[3] if len(parts) > 3 else "spend_milli"
    if counter not in COUNT_FIELDS:
        return None
    return campaign_id, creative_id, placement, counter


def _add_to_rows(day: date, counts: dict[str, int]) -> dict[int, Campaign]:
    """Adds flushed counts to the day's rows; returns the campaigns touched."""
    rows: dict[tuple, dict[str, int]] = defaultdict(dict)
    for key, amount in counts.items():
        parsed = _parse_key(key)
        if parsed is None or amount <= 0:
            continue
        campaign_id, creative_id, placement, counter = parsed
        row = rows[(campaign_id, creative_id, placement)]
        row[counter] = row.get(counter, 0) + amount
    campaigns = {
        c.pk: c
        for c in Campaign.objects.filter(pk__in={k[0] for k in rows}).select_related(
            "advertiser"
        )
    }
    creatives = set(
        Creative.objects.filter(pk__in={k[1] for k in rows}).values_list(
            "pk", flat=True
        )
    )
    for (campaign_id, creative_id, placement), values in rows.items():
        if campaign_id not in campaigns:
            continue
        stat, _created = DailyStat.objects.get_or_create(
            day=day,
            campaign_id=campaign_id,
            creative_id=creative_id if creative_id in creatives else None,
            placement=placement,
        )
        DailyStat.objects.filter(pk=stat.pk).update(
            **{name: F(name) + n for name, n in values.items()}
        )
    return campaigns


def stats_apply_events(day: date, counts: dict[str, int]) -> None:
    """`ad.event` counts (served, viewable, clicks, filtered) into daily rows."""
    _add_to_rows(day, counts)


def stats_apply_spend(day: date, counts: dict[str, int]) -> None:
    """
    `ad.spend` (thousandths of a paisa, billed by the store) into daily rows,
    then into the ledger: each campaign-day's debits catch up with its spend,
    in whole paisa, under the advertiser's row lock.
    """
    campaigns = _add_to_rows(day, counts)
    touched = {}
    for campaign in sorted(campaigns.values(), key=lambda c: c.pk):
        _bill_day(campaign, day)
        touched[campaign.advertiser_id] = campaign.advertiser
    for advertiser in touched.values():
        _after_spend(advertiser)


def _bill_day(campaign: Campaign, day: date) -> None:
    """The ledger's spend for one campaign-day catches up with its counted spend."""
    counted = (
        DailyStat.objects.filter(campaign=campaign, day=day).aggregate(
            s=Sum("spend_milli")
        )["s"]
        or 0
    )
    billed = -(
        LedgerEntry.objects.filter(
            campaign=campaign, day=day, kind=LedgerEntry.Kind.SPEND
        ).aggregate(s=Sum("amount"))["s"]
        or 0
    )
    due = counted // MILLI - billed
    if due > 0:
        _debit(
            campaign.advertiser,
            kind=LedgerEntry.Kind.SPEND,
            amount=due,
            partial=True,
            campaign=campaign,
            day=day,
        )


def _after_spend(advertiser: Advertiser) -> None:
    """Pauses campaigns the balance no longer pays for; warns when it runs low."""
    balance = LedgerEntry.objects.balance_of(advertiser)
    running = list(
        Campaign.objects.filter(advertiser=advertiser, status=Campaign.Status.RUNNING)
    )
    starved = [c for c in running if balance * MILLI < c.unit_cost_milli]
    for campaign in starved:
        campaign.status = Campaign.Status.PAUSED
        campaign.pause_reason = Campaign.PauseReason.BALANCE
        campaign.save(update_fields=["status", "pause_reason", "updated_at"])
    if starved:
        _republish()
    advertiser = Advertiser.objects.get(pk=advertiser.pk)
    if (
        balance < settings.ADS_LOW_BALANCE
        and advertiser.low_balance_notified_at is None
    ):
        Advertiser.objects.filter(pk=advertiser.pk).update(
            low_balance_notified_at=timezone.now()
        )
        send_templated_email(
            to=advertiser.user.email,
            template="ads/emails/low_balance",
            context={"advertiser": advertiser, "balance": npr_paisa(balance)},
        )


def tick(*, now: datetime | None = None) -> dict:
    """What `ads_tick` does every minute: flush, lifecycle, boosts, index."""
    from ads.serving import EVENTS, SPEND, index_rebuild

    result = {
        "flushed": counting.flush(metrics=[EVENTS, SPEND]).batches,
        "campaigns": campaigns_advance(now=now),
        "boosts": boosts_settle(now=now),
    }
    index_rebuild(now)
    return result
