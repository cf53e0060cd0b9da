"""
Counting a viewable impression (the beacon) and a click (the redirect).

Each event is checked in order — prefetch, bot, staff or the advertiser,
someone else's token, a token used twice, a repeat click within 30 minutes —
and goes either to its filtered counter or to the store's atomic billing,
which charges its price only while the day's budget, the total budget and
the advertiser's balance all allow. The event and what it was billed are
then counted through the shared counting machinery; nothing here touches
the database: the minute's flush does.
"""

import logging

from django.utils import timezone

from ads.models import Campaign, Creative
from ads.serving import EVENTS, SPEND, current_index, event_key
from ads.store import StoreDown, get_store
from ads.tracking import (
    CLICK_SALT,
    CLICK_TOKEN_SECONDS,
    REPEAT_CLICK_SECONDS,
    VIEW_SALT,
    VIEW_TOKEN_SECONDS,
    first_use,
    is_bot,
    is_prefetch,
    read_token,
    viewer_hash,
)
from nobroker import counting

logger = logging.getLogger(__name__)


def _filter_reason(request, data: dict, entry: dict | None) -> str:
    if is_prefetch(request):
        return "filtered_prefetch"
    if is_bot(request):
        return "filtered_bot"
    user = getattr(request, "user", None)
    if (
        user is not None
        and user.is_authenticated
        and (user.is_staff or (entry and user.pk == entry["user_id"]))
    ):
        return "filtered_internal"
    if data["v"] != viewer_hash(request):
        return "filtered_reused"
    return ""


def _entry(data: dict) -> dict | None:
    index = current_index()
    if index is None:
        return None
    return index["campaigns"].get(data["c"])


def _count(data: dict, entry: dict | None, counter: str, billed: bool) -> str:
    """Counts the event as `counter` (billing it if `billed`); returns what it became."""
    key = event_key(data["c"], data["r"], data["p"])
    counting.count(EVENTS, f"{key}:{counter}")
    if not billed or entry is None:
        return counter
    amount = entry["unit"] if (counter == "clicks") == entry["cpc"] else 0
    if not amount:
        return counter
    day = timezone.localdate().isoformat()
    charged = get_store().bill(
        keys=[
            f"spend:d:{day}:{entry['id']}",
            f"spend:t:{entry['id']}",
            f"spend:a:{entry['advertiser_id']}",
            f"credit:a:{entry['advertiser_id']}",
        ],
        amount=amount,
        day_cap=entry["daily_cap"],
        total_cap=entry["total_cap"],
    )
    if charged == 1:
        counting.count(SPEND, key, amount=amount)
    return counter


def record_view(request, token: str) -> str | None:
    """Counts one viewable impression; None when the token is not a valid one."""
    data = read_token(token, salt=VIEW_SALT, max_age=VIEW_TOKEN_SECONDS)
    if data is None:
        return None
    try:
        entry = _entry(data)
        reason = _filter_reason(request, data, entry)
        if not reason and not first_use(data, "view", VIEW_TOKEN_SECONDS):
            reason = "filtered_reused"
        if reason:
            return _count(data, entry, reason, billed=False)
        if entry is None:
            return "ended"
        return _count(data, entry, "viewable", billed=True)
    except StoreDown as error:
        logger.warning("A viewable impression was not counted: %s", error)
        return "lost"


def _target(data: dict, entry: dict | None) -> str | None:
    if entry is not None:
        for creative in entry["creatives"]:
            if creative["id"] == data["r"]:
                return creative["url"]
    # A campaign no longer served (ended, paused) still leads where it said.
    return (
        Creative.objects.filter(pk=data["r"], campaign_id=data["c"])
        .exclude(campaign__status=Campaign.Status.DRAFT)
        .values_list("target_url", flat=True)
        .first()
    )


def record_click(request, token: str) -> str | None:
    """Counts one click and returns where it leads; None for an invalid token."""
    data = read_token(token, salt=CLICK_SALT, max_age=CLICK_TOKEN_SECONDS)
    if data is None:
        return None
    try:
        entry = _entry(data)
    except StoreDown:
        entry = None
    target = _target(data, entry)
    if target is None:
        return None
    try:
        reason = _filter_reason(request, data, entry)
        if not reason and not first_use(data, "click", CLICK_TOKEN_SECONDS):
            reason = "filtered_reused"
        if not reason and not get_store().add(
            f"clicked:{data['v']}:{data['c']}", REPEAT_CLICK_SECONDS
        ):
            reason = "filtered_repeat"
        if reason:
            _count(data, entry, reason, billed=False)
        elif entry is not None:
            _count(data, entry, "clicks", billed=True)
    except StoreDown as error:
        logger.warning("A click was not counted: %s", error)
    return target
