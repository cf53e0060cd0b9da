import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.emails import render_templated_email, send_templated_emails
from accounts.models import Notification, User
from accounts.notifications import notifications_add
from listings.models import Listing
from listings.search import text_filter
from nobroker.numbers import shown
from searches.matching import ROW_FIELDS, criteria_for, matches
from searches.models import SavedSearch, clean_query

# Listings named in one alert; the email links to the search for the rest.
ALERT_LISTINGS = 10
BATCH = 500
# A listing whose publishing transaction was still open when a run started
# carries a publish time a little before the run: looking only at listings
# published up to this long ago means none is skipped.
ALERT_LAG = dt.timedelta(minutes=1)


class SavedSearchLimit(Exception):
    pass


@transaction.atomic
def saved_search_create(
    *,
    user: User,
    name: str,
    query: str,
    frequency: str,
    email: bool = True,
    notify: bool = True,
) -> SavedSearch:
    """Saves the search page's query under a name; alerts start from now."""
    if SavedSearch.objects.for_user(user).count() >= SavedSearch.MAX_PER_USER:
        raise SavedSearchLimit
    query = clean_query(query)
    return SavedSearch.objects.create(
        user=user,
        name=name,
        query=query,
        criteria=criteria_for(query),
        frequency=frequency,
        email=email,
        notify=notify,
        checked_until=timezone.now() - ALERT_LAG,
    )


@transaction.atomic
def saved_search_set_alerts(*, saved_search: SavedSearch, frequency: str) -> None:
    """Turns alerts off or on again; on again, they cover what is new from now."""
    saved_search.frequency = frequency
    fields = ["frequency"]
    if frequency != SavedSearch.Frequency.OFF:
        saved_search.checked_until = timezone.now() - ALERT_LAG
        fields.append("checked_until")
    saved_search.save(update_fields=fields)


def _candidate_ids(saved_search, rows, by_locality, until) -> list[int]:
    """Ids of the new listings that pass the saved search's filters (all but
    its words), newest first."""
    criteria = saved_search.criteria
    since = saved_search.checked_until
    pools = (
        [by_locality.get(loc, ()) for loc in criteria["localities"]]
        if criteria["localities"]
        else [rows]
    )
    found = [
        r
        for pool in pools
        for r in pool
        if since < r["published_at"] <= until and matches(criteria, r)
    ]
    if len(pools) > 1:
        found.sort(key=lambda r: (r["published_at"], r["id"]), reverse=True)
    return [r["id"] for r in found]


def _matching(batch, rows, by_locality, until) -> dict[int, list[int]]:
    """Each saved search of the batch → the new listings it matches, newest
    first. Words match as on the search page, by the database's own text
    search: one query per distinct set of words in the batch, over the
    candidates of the searches that have them."""
    found = {}
    by_words = defaultdict(list)
    for saved_search in batch:
        if not saved_search.criteria:
            saved_search.criteria = criteria_for(saved_search.query)
        ids = _candidate_ids(saved_search, rows, by_locality, until)
        if not ids:
            continue
        words = tuple(saved_search.criteria["words"])
        if words:
            by_words[words].append((saved_search.pk, ids))
        else:
            found[saved_search.pk] = ids
    for words, searches in by_words.items():
        candidates = {i for _pk, ids in searches for i in ids}
        having = set(
            text_filter(
                Listing.objects.filter(pk__in=candidates), list(words)
            ).values_list("pk", flat=True)
        )
        for pk, ids in searches:
            ids = [i for i in ids if i in having]
            if ids:
                found[pk] = ids
    return found


def _alert(saved_search: SavedSearch, listings: list[dict], count: int):
    """The alert's email (when chosen) and notification (unsaved), or None each."""
    user = saved_search.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        more = count > ALERT_LISTINGS
        text = (
            _("More than %(n)s new places for your search “%(name)s”.")
            if more
            else ngettext(
                "%(n)s new place for your search “%(name)s”.",
                "%(n)s new places for your search “%(name)s”.",
                count,
            )
        ) % {"n": shown(min(count, ALERT_LISTINGS)), "name": saved_search.name}
    email = None
    if saved_search.email:
        email = render_templated_email(
            to=user.email,
            template="searches/emails/alert",
            context={
                "user": user,
                "text": text,
                "saved_search": saved_search,
                "listings": listings,
                "search_url": saved_search.get_absolute_url(),
                "unsubscribe_url": saved_search.unsubscribe_url(),
            },
        )
    notification = None
    if saved_search.notify:
        notification = Notification(
            user=user,
            kind=Notification.Kind.SAVED_SEARCH,
            text=text,
            url=saved_search.get_absolute_url(),
        )
    return email, notification


def _shown(ids: list[int]) -> dict[int, dict]:
    """What an alert email lists of each listing, read and linked once a batch."""
    shown = {}
    for listing in (
        Listing.objects.filter(pk__in=ids)
        .select_related("locality")
        .only("id", "slug", "title", "rent", "locality__name")
    ):
        shown[listing.pk] = {
            "title": listing.title,
            "locality": listing.locality.name,
            "rent": listing.rent,
            "url": listing.get_absolute_url(),
        }
    return shown


def saved_search_alerts_run(*, now: dt.datetime | None = None) -> dict:
    """
    Alerts for every saved search that is due: the listings published since
    its last check that match it, in one email and one notification per search;
    then its check moves on, so a listing is never announced twice. The new
    listings are read once and matched in memory (searches.matching); searches
    are taken in batches, each locked (skipping those another run holds), so
    two runs at once share the work instead of doubling it.
    """
    now = now or timezone.now()
    until = now - ALERT_LAG
    stats = {"checked": 0, "alerted": 0}
    oldest = SavedSearch.objects.due(now).aggregate(m=Min("checked_until"))["m"]
    if oldest is None:
        return stats
    rows = list(
        Listing.objects.published()
        .filter(published_at__gt=oldest, published_at__lte=until)
        .order_by("-published_at", "-id")
        .values(*ROW_FIELDS)
    )
    by_locality = defaultdict(list)
    for row in rows:
        by_locality[row["locality_id"]].append(row)
    # The due searches' keys once, then one locked batch at a time: a batch
    # re-checks that its searches are still due, so a search another run has
    # just done is skipped, never alerted twice.
    due_ids = list(
        SavedSearch.objects.due(now).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(due_ids), BATCH):
        with transaction.atomic():
            batch = SavedSearch.objects.filter(pk__in=due_ids[start : start + BATCH])
            if connection.features.has_select_for_update_skip_locked:
                batch = batch.select_for_update(skip_locked=True, of=("self",))
            # Read under the lock: a search another run finished meanwhile is
            # no longer due (checked by key here, so the index on the keys
            # serves this query, not the due index's whole range).
            batch = [s for s in batch.select_related("user") if s.is_due(now)]
            if not batch:
                continue
            found = _matching(batch, rows, by_locality, until) if rows else {}
            shown = _shown([i for ids in found.values() for i in ids[:ALERT_LISTINGS]])
            emails, notifications = [], []
            for saved_search in batch:
                ids = found.get(saved_search.pk)
                if ids:
                    listings = [shown[i] for i in ids[:ALERT_LISTINGS] if i in shown]
                    email, notification = _alert(saved_search, listings, len(ids))
                    if email:
                        emails.append(email)
                    if notification:
                        notifications.append(notification)
            notifications_add(notifications=notifications)
            send_templated_emails(emails)
            SavedSearch.objects.filter(pk__in=[s.pk for s in batch]).update(
                checked_until=until
            )
            if found:
                SavedSearch.objects.filter(pk__in=found).update(last_alert_at=now)
            stats["checked"] += len(batch)
            stats["alerted"] += len(found)
    return stats
