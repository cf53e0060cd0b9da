"""
Choosing and counting ads on a page's path, with no SQL.

The eligible campaigns of every placement and the active boosts are kept in
an index: built from the database by `index_rebuild` (when a campaign
changes, and by `ads_tick` every minute), stored in Redis, and copied into
each process's memory for a few seconds. A page reads the copy and the
process's copy of every campaign's spend (at most a second old), checks a
visitor's frequency cap in their cookie (ads/capping.py; a signed-in
person's in the store, in one round trip), picks by price and pacing, and
leaves what it served to a thread that writes every quarter second.
With the store unavailable the page simply has no ads.
"""

import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from ads.capping import CookieCap
from ads.models import MILLI, Campaign, DailyStat, LedgerEntry
from ads.placements import (
    SEARCH_AD_EVERY,  # noqa: F401 - re-exported for tags
)
from ads.rendering import ad_template, creative_entry, fill_template
from ads.store import StoreDown, get_store
from ads.tracking import (
    CLICK_SALT,
    VIEW_SALT,
    is_bot,
    is_prefetch,
    make_token,
    viewer_hash,
)
from nobroker import counting

logger = logging.getLogger(__name__)

INDEX_KEY = "index"
INDEX_VERSION_KEY = "index:version"
LOCAL_SECONDS = 5.0
# The shared counting machinery's metrics of the ads (registered in apps.py):
# events by "campaign:creative:placement:counter", spend by
# "campaign:creative:placement" in thousandths of a paisa.
EVENTS = "ad.event"
SPEND = "ad.spend"
COUNTER_TTL = 3 * 24 * 60 * 60
# Clicks are expected at about this rate when a price per click is compared
# with a price per thousand impressions.
EXPECTED_CTR = 0.01

_local: dict = {}
# Listing columns the boost match reads besides a card's.
BOOST_MATCH_FIELDS = (
    "furnishing",
    "preferred_tenants",
    "pets_allowed",
    "available_from",
    "description",
)


@dataclass
class Slot:
    """Where an ad is asked for, and what the page is about (for targeting)."""

    placement: str
    localities: frozenset = frozenset()
    types: frozenset = frozenset()
    rent: tuple | None = None  # (low, high), either may be None


def listing_slot(placement: str, listing) -> Slot:
    """A slot on a page about one listing: its locality, type and rent."""
    return Slot(
        placement,
        localities=frozenset([listing.locality_id]),
        types=frozenset([listing.property_type]),
        rent=(listing.rent, listing.rent),
    )


@dataclass
class Viewer:
    hash: str
    user_id: int | None
    filtered: str = ""  # the counter a view goes to instead of "served"
    shown: set = field(default_factory=set)
    # Visitors without an account have their cap counted in a cookie of
    # campaign ids and counts (ads/capping.py), so choosing their ads needs no
    # trip to the store; signed-in people are capped in the store by user.
    cookie_cap: CookieCap | None = None


# --- The index ------------------------------------------------------------------


def _campaign_entry(campaign: Campaign) -> dict:
    creatives = [creative_entry(c) for c in campaign.creatives.all() if c.images]
    unit = campaign.unit_cost_milli
    ecpm = (
        campaign.price * MILLI * EXPECTED_CTR * 1000
        if campaign.price_model == Campaign.PriceModel.CPC
        else campaign.price
    )
    return {
        "id": campaign.pk,
        "advertiser_id": campaign.advertiser_id,
        "user_id": campaign.advertiser.user_id,
        "placements": list(campaign.placements),
        "localities": frozenset(loc.pk for loc in campaign.localities.all()),
        "types": frozenset(campaign.property_types or ()),
        "rent": (campaign.rent_min, campaign.rent_max)
        if campaign.rent_min is not None or campaign.rent_max is not None
        else None,
        "starts": campaign.starts_at.timestamp(),
        "ends": campaign.ends_at.timestamp(),
        "daily_cap": campaign.daily_budget * MILLI,
        "total_cap": campaign.total_budget * MILLI,
        "unit": unit,
        "cpc": campaign.price_model == Campaign.PriceModel.CPC,
        "cap": campaign.frequency_cap,
        "weight": max(float(ecpm), 1.0),
        "creatives": creatives,
    }


def _boost_entries(now: datetime) -> list[dict]:
    from ads.models import Boost
    from listings.models import CARD_FIELDS, Listing

    boosts = list(
        Boost.objects.active()
        .filter(ends_at__gt=now, listing__status=Listing.Status.PUBLISHED)
        .values("pk", "listing_id")
    )
    if not boosts:
        return []
    # Only what the card and the search's filters read: nothing deferred is
    # touched later on a page, and no owner's details go into the index.
    listings = {
        listing.pk: listing
        for listing in Listing.objects.filter(pk__in=[b["listing_id"] for b in boosts])
        .for_cards()
        .only(*CARD_FIELDS, *BOOST_MATCH_FIELDS)
    }
    entries = []
    for boost in boosts:
        listing = listings.get(boost["listing_id"])
        if listing is None:
            continue
        words = f"{listing.title} {listing.description}".lower()
        entries.append(
            {
                "boost_id": boost["pk"],
                "listing": listing,
                "tokens": frozenset(
                    "".join(ch if ch.isalnum() else " " for ch in words).split()
                ),
            }
        )
    return entries


def index_build(now: datetime | None = None) -> dict:
    """Reads what may be served from the database (never on a page's path)."""
    now = now or timezone.now()
    campaigns = list(
        Campaign.objects.servable()
        .filter(ends_at__gt=now)
        .select_related("advertiser")
        .prefetch_related("localities", "creatives")
    )
    entries = {c.pk: _campaign_entry(c) for c in campaigns}
    entries = {pk: e for pk, e in entries.items() if e["creatives"]}
    by_placement: dict[str, list[int]] = {}
    for entry in entries.values():
        for placement in entry["placements"]:
            by_placement.setdefault(placement, []).append(entry["id"])
    return {
        "built": now.timestamp(),
        "campaigns": entries,
        "by_placement": by_placement,
        "boosts": _boost_entries(now),
    }


def _load_spend_counters(index: dict, now: datetime) -> None:
    """
    Puts the database's spend into the store where it is missing (after a
    Redis restart, say), and the advertisers' credit everywhere: money only
    ever comes from the ledger.
    """
    store = get_store()
    campaign_ids = list(index["campaigns"])
    advertiser_ids = {e["advertiser_id"] for e in index["campaigns"].values()}
    if not campaign_ids:
        return
    day = timezone.localdate(now)
    totals = dict(
        DailyStat.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(s=Sum("spend_milli"))
        .values_list("campaign_id", "s")
    )
    today = dict(
        DailyStat.objects.filter(campaign_id__in=campaign_ids, day=day)
        .values("campaign_id")
        .annotate(s=Sum("spend_milli"))
        .values_list("campaign_id", "s")
    )
    by_advertiser = dict(
        DailyStat.objects.filter(campaign__advertiser_id__in=advertiser_ids)
        .values("campaign__advertiser_id")
        .annotate(s=Sum("spend_milli"))
        .values_list("campaign__advertiser_id", "s")
    )
    credits = dict(
        LedgerEntry.objects.filter(advertiser_id__in=advertiser_ids)
        .exclude(kind=LedgerEntry.Kind.SPEND)
        .values("advertiser_id")
        .annotate(s=Sum("amount"))
        .values_list("advertiser_id", "s")
    )
    for pk in campaign_ids:
        store.set(f"spend:t:{pk}", totals.get(pk) or 0, nx=True)
        store.set(
            f"spend:d:{day.isoformat()}:{pk}",
            today.get(pk) or 0,
            ttl=COUNTER_TTL,
            nx=True,
        )
    for pk in advertiser_ids:
        store.set(f"spend:a:{pk}", by_advertiser.get(pk) or 0, nx=True)
        store.set(f"credit:a:{pk}", (credits.get(pk) or 0) * MILLI)


def index_rebuild(now: datetime | None = None) -> dict | None:
    """Builds the index and publishes it to every process (within seconds)."""
    now = now or timezone.now()
    index = index_build(now)
    store = get_store()
    try:
        _load_spend_counters(index, now)
        version = store.incr(INDEX_VERSION_KEY)
        index["version"] = version
        store.set_object(INDEX_KEY, index)
    except StoreDown as error:
        logger.warning("The ads index could not be stored: %s", error)
        return None
    _local["index"] = (time.monotonic() + LOCAL_SECONDS, version, index)
    return index


def index_forget_locally() -> None:
    _local.clear()


def _rebuild_in_background() -> None:
    """A missing index is rebuilt beside the page, never in its way."""
    store = get_store()
    if getattr(settings, "TESTING", False) or not store.add("index:rebuilding", 30):
        return

    def run():
        try:
            index_rebuild()
        finally:
            connection.close()

    threading.Thread(target=run, daemon=True, name="ads-index").start()


def current_index() -> dict | None:
    """This process's copy of the index; None when the store is away."""
    found = _local.get("index")
    now = time.monotonic()
    if found and found[0] > now:
        return found[2]
    store = get_store()
    try:
        raw_version = store.get(INDEX_VERSION_KEY)
        version = int(raw_version) if raw_version is not None else None
        if found and version == found[1]:
            _local["index"] = (now + LOCAL_SECONDS, version, found[2])
            return found[2]
        index = store.get_object(INDEX_KEY) if version is not None else None
    except StoreDown:
        _local.pop("index", None)
        return None
    if index is None:
        _rebuild_in_background()
        return None
    _local["index"] = (now + LOCAL_SECONDS, index.get("version"), index)
    return index


# --- Choosing --------------------------------------------------------------------


def targeting_matches(entry: dict, slot: Slot) -> bool:
    """A targeted dimension needs the page to be about it; untargeted fits all."""
    if entry["localities"] and not (entry["localities"] & slot.localities):
        return False
    if entry["types"] and not (entry["types"] & slot.types):
        return False
    if entry["rent"] is not None:
        if slot.rent is None:
            return False
        low, high = entry["rent"]
        page_low, page_high = slot.rent
        if low is not None and page_high is not None and page_high < low:
            return False
        if high is not None and page_low is not None and page_low > high:
            return False
    return True


def paced_allowance(daily_cap: int, now: datetime) -> int:
    """What may be spent by the end of this hour: the day's budget by hour."""
    hour = timezone.localtime(now).hour
    return daily_cap * (hour + 1) // 24


def viewer_for(request) -> Viewer:
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    filtered = ""
    if is_prefetch(request):
        filtered = "filtered_prefetch"
    elif is_bot(request):
        filtered = "filtered_bot"
    elif user is not None and user.is_authenticated and user.is_staff:
        filtered = "filtered_internal"
    viewer = Viewer(hash=viewer_hash(request), user_id=user_id, filtered=filtered)
    if user_id is None:
        viewer.cookie_cap = CookieCap.from_request(request)
    return viewer


# Slots seen by this process's copy of the index, at most this many (a listing
# page's slot differs by locality, type and rent).
SLOT_CACHE_SIZE = 4096


def slot_candidates(index: dict, slot: Slot) -> list[dict]:
    """
    The campaigns whose placement and targeting fit this slot, worked out
    once per copy of the index (which lasts seconds and is replaced when a
    campaign changes): a page then only checks schedules and live counters.
    """
    cache = index.get("_slots")
    if cache is None or len(cache) >= SLOT_CACHE_SIZE:
        cache = index["_slots"] = {}
    key = (slot.placement, slot.localities, slot.types, slot.rent)
    found = cache.get(key)
    if found is None:
        campaigns = index["campaigns"]
        found = cache[key] = [
            campaigns[pk]
            for pk in index["by_placement"].get(slot.placement, ())
            if targeting_matches(campaigns[pk], slot)
        ]
    return found


def _spend_keys(entry: dict, day: str) -> list[str]:
    return [
        f"spend:d:{day}:{entry['id']}",
        f"spend:t:{entry['id']}",
        f"spend:a:{entry['advertiser_id']}",
        f"credit:a:{entry['advertiser_id']}",
    ]


def _spend(index: dict, day: str, keys: list[str]) -> list:
    """
    `keys`' values from this process's copy of every campaign's spend, read
    in one trip when it is older than ADS_SPEND_SECONDS (0: always live).
    """
    seconds = settings.ADS_SPEND_SECONDS
    if seconds <= 0:
        return get_store().mget(keys)
    now = time.monotonic()
    found = _local.get("spend")
    if found is None or found[0] <= now or found[1] != (index.get("version"), day):
        every = [
            key
            for entry in index["campaigns"].values()
            for key in _spend_keys(entry, day)
        ]
        found = _local["spend"] = (
            now + seconds,
            (index.get("version"), day),
            dict(zip(every, get_store().mget(every), strict=True)),
        )
    values = found[2]
    return [values.get(key) for key in keys]


def choose(
    slot: Slot, viewer: Viewer, count: int = 1, now: datetime | None = None
) -> list[tuple[dict, dict]]:
    """Up to `count` (campaign, creative) pairs for this slot, distinct campaigns."""
    index = current_index()
    if index is None:
        return []
    now = now or timezone.now()
    stamp = now.timestamp()
    cookie_cap = viewer.cookie_cap
    candidates = [
        entry
        for entry in slot_candidates(index, slot)
        if entry["id"] not in viewer.shown
        and entry["starts"] <= stamp < entry["ends"]
        and (cookie_cap is None or cookie_cap.seen(entry["id"]) < entry["cap"])
    ]
    if not candidates:
        return []
    day = timezone.localdate(now).isoformat()
    # The live spend of each candidate, and for a signed-in person their count
    # of it today (one round trip); for anyone else the spend comes from this
    # process's copy of at most ADS_SPEND_SECONDS ago (`_spend`), so choosing
    # their ads takes no trip at all. Billing itself is checked live, in one
    # atomic script, so a copy a second old never makes anyone overspend.
    per = 5 if viewer.cookie_cap is None and viewer.hash else 4
    keys = []
    for entry in candidates:
        keys += _spend_keys(entry, day)
        if per == 5:
            keys.append(f"freq:{day}:{viewer.hash}:{entry['id']}")
    values = get_store().mget(keys) if per == 5 else _spend(index, day, keys)
    eligible = []
    for i, entry in enumerate(candidates):
        day_spend, total, adv, credit = values[i * per : i * per + 4]
        if total is None or adv is None or credit is None:
            continue  # Spend not loaded yet: nothing could be billed.
        day_spend = int(day_spend or 0)
        unit = entry["unit"]
        if per == 5 and int(values[i * per + 4] or 0) >= entry["cap"]:
            continue
        if day_spend + unit > entry["daily_cap"]:
            continue
        if int(total) + unit > entry["total_cap"] or int(adv) + unit > int(credit):
            continue
        allowance = paced_allowance(entry["daily_cap"], now)
        if day_spend >= allowance:
            continue
        # Behind plan weighs more, so the day's budget is spread evenly.
        behind = (allowance - day_spend) / max(allowance, 1)
        eligible.append((entry, entry["weight"] * (0.5 + behind)))
    chosen = []
    while eligible and len(chosen) < count:
        total_weight = sum(w for _, w in eligible)
        pick = random.uniform(0, total_weight)
        for n, (_entry, weight) in enumerate(eligible):
            pick -= weight
            if pick <= 0 or n == len(eligible) - 1:
                break
        entry, _weight = eligible.pop(n)
        chosen.append((entry, random.choice(entry["creatives"])))
    return chosen


def event_key(
    campaign_id: int, creative_id: int, placement: str, counter: str = ""
) -> str:
    base = f"{campaign_id}:{creative_id}:{placement}"
    return f"{base}:{counter}" if counter else base


def serve(request, slot: Slot, count: int = 1, now: datetime | None = None) -> list:
    """The HTML of up to `count` ads for this slot, counted as served."""
    if not getattr(settings, "ADS_ENABLED", True):
        return []
    try:
        viewer = getattr(request, "_ads_viewer", None)
        if viewer is None:
            viewer = request._ads_viewer = viewer_for(request)
        chosen = choose(slot, viewer, count, now)
        if not chosen:
            return []
        day = timezone.localdate(now).isoformat()
        events, counters, html = [], {}, []
        for entry, creative in chosen:
            viewer.shown.add(entry["id"])
            counter = viewer.filtered
            if not counter and viewer.user_id == entry["user_id"]:
                counter = "filtered_internal"
            events.append(
                event_key(
                    entry["id"], creative["id"], slot.placement, counter or "served"
                )
            )
            if not counter and viewer.cookie_cap is not None:
                viewer.cookie_cap.add(entry["id"])
                request._ads_cookie_cap = viewer.cookie_cap
            elif not counter and viewer.hash:
                counters[f"freq:{day}:{viewer.hash}:{entry['id']}"] = 1
            token_args = {
                "campaign_id": entry["id"],
                "creative_id": creative["id"],
                "placement": slot.placement,
                "viewer": viewer.hash,
            }
            # The ad's HTML is made once per copy of the index, language and
            # placement; a page only puts its two tokens in.
            html.append(
                fill_template(
                    ad_template(slot.placement, creative),
                    view_token=make_token(**token_args, salt=VIEW_SALT),
                    click_token=make_token(**token_args, salt=CLICK_SALT),
                )
            )
        record_served(counters, events, timezone.localdate(now))
    except StoreDown as error:
        logger.warning("No ads on this page: the store is unavailable (%s)", error)
        return []
    return html


# --- What was served: written beside the page, not in its way ----------------------

WRITE_EVERY_SECONDS = 0.25
_pending: dict = {"counters": defaultdict(int), "events": defaultdict(int)}
_pending_lock = threading.Lock()
_writer_started = threading.Event()


def record_served(counters: dict, events: list[str], day) -> None:
    """
    Counts what a page served (events) and raises the viewers' frequency
    counters. With `ADS_DEFER_WRITES` (on outside tests) both are added to this
    process's batch, which a thread writes every quarter second in one
    pipeline each: a page's only round trip for ads is then the read that
    chose them. A process that dies loses at most that quarter second of
    served counts (never money: billing is done by the beacon and the click).
    """
    if not settings.ADS_DEFER_WRITES:
        get_store().add_many(counters, COUNTER_TTL)
        counting.count(EVENTS, *events, day=day)
        return
    with _pending_lock:
        for key, n in counters.items():
            _pending["counters"][key] += n
        for key in events:
            _pending["events"][(day, key)] += 1
    if not _writer_started.is_set():
        _writer_started.set()
        threading.Thread(target=_write_loop, daemon=True, name="ads-served").start()


def write_pending() -> None:
    """Writes this process's batch of served counts now."""
    with _pending_lock:
        counters = dict(_pending["counters"])
        events = dict(_pending["events"])
        _pending["counters"].clear()
        _pending["events"].clear()
    if counters:
        try:
            get_store().add_many(counters, COUNTER_TTL)
        except StoreDown as error:
            logger.warning("Frequency counts not written: %s", error)
    if events:
        counting.backend().add(
            counts=[(EVENTS, day, key, n) for (day, key), n in events.items()],
            uniques=[],
        )


def _write_loop() -> None:
    while True:
        time.sleep(WRITE_EVERY_SECONDS)
        try:
            write_pending()
        except Exception:  # The loop must outlive one bad write; it is logged.
            logger.exception("Served ads could not be counted")


def boosts_for(search, now: datetime | None = None) -> list:
    """The boosted listings (at most MAX_BOOSTED) that this search really finds."""
    from ads.placements import MAX_BOOSTED

    if not getattr(settings, "ADS_ENABLED", True):
        return []
    try:
        index = current_index()
    except StoreDown:
        return []
    if not index or not index["boosts"]:
        return []
    matches = [e["listing"] for e in index["boosts"] if boost_matches(e, search)]
    random.shuffle(matches)
    return matches[:MAX_BOOSTED]


def boost_matches(entry: dict, search) -> bool:
    """The search's own filters (listings.search) applied to a boosted listing."""
    listing = entry["listing"]
    data = search.form.cleaned_data if search.form.is_bound else {}
    checks = [
        not search.locality_ids or listing.locality_id in search.locality_ids,
        not search.types or listing.property_type in search.types,
        data.get("rent_min") is None or listing.rent >= data["rent_min"],
        data.get("rent_max") is None or listing.rent <= data["rent_max"],
        not data.get("bedrooms") or listing.bedrooms >= data["bedrooms"],
        not data.get("furnishing") or listing.furnishing == data["furnishing"],
        data.get("parking") != "bike" or listing.bike_parking >= 1,
        data.get("parking") != "car" or listing.car_parking >= 1,
        not data.get("water_min") or listing.water_hours >= data["water_min"],
        not data.get("tenants")
        or listing.preferred_tenants in (data["tenants"], "anyone"),
        not data.get("pets") or listing.pets_allowed,
        not data.get("available_by") or listing.available_from <= data["available_by"],
    ]
    if not all(checks):
        return False
    tokens = entry["tokens"]
    return all(any(t.startswith(word) for t in tokens) for word in search.words)
