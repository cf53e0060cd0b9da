import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.emails import MailMerge, send_templated_emails
from accounts.models import Notification, User
from accounts.notifications import notifications_add
from listings.models import Listing
from nobroker.numbers import shown as in_digits
from searches.matching import ROW_FIELDS, NewListings, criteria_for
from searches.models import SavedSearch, clean_query

# Listings named in one alert; the email links to the search for the rest.
ALERT_LISTINGS = 10
BATCH = 500
# The fields that tell whether a search is due, and those its alert uses.
DUE_FIELDS = ("id", "frequency", "email", "notify", "checked_until")
BATCH_FIELDS = (
    *DUE_FIELDS,
    *("name", "query", "criteria"),
    *("user__email", "user__full_name", "user__language"),
)
# Emails queued in one task for the worker.
EMAILS_PER_TASK = 500
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


def _matching(batch, new: NewListings) -> dict[int, list[int]]:
    """Each saved search of the batch → the new listings it matches, newest
    first, up to one more than an alert names (each distinct set of filters
    is matched once a run: NewListings)."""
    found = {}
    for saved_search in batch:
        if not saved_search.criteria:
            saved_search.criteria = criteria_for(saved_search.query)
        # One more than an email lists: enough to say "more than 10".
        ids = new.matching(
            saved_search.criteria,
            saved_search.checked_until,
            first=ALERT_LISTINGS + 1,
        )
        if ids:
            found[saved_search.pk] = ids
    return found


def _shown(ids: list[int]) -> dict[int, dict]:
    """What an alert email lists of each listing, read and linked once a run."""
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


def _alert_mail() -> MailMerge:
    """The alert email, rendered once per language and filled in per search."""
    value = MailMerge.value
    return MailMerge(
        template="searches/emails/alert",
        context={
            "user": {"first_name": value("first_name")},
            "saved_search": {"name": value("name")},
            "text": value("text"),
            "search_url": value("search_url"),
            "unsubscribe_url": value("unsubscribe_url"),
        },
        lists={"listings": "listing"},
    )


class _Alerts:
    """
    One run's alerts, built from what every search shares, each made once a
    run: the listings' lines in each language, the alert line for each count
    and language, the link of each distinct search.
    """

    def __init__(self):
        self.mail = _alert_mail()
        self.shown: dict[int, dict] = {}
        self.lines: dict[tuple[int, str], str] = {}
        self.texts: dict[tuple[str, int], str] = {}
        self.search_urls: dict[str, str] = {}
        # The unsubscribe link around each search's token, reversed once: a
        # signed token's characters (letters, digits, "-_:") are never quoted.
        link = reverse("searches:unsubscribe", args=["~token~"])
        self.unsubscribe = link.rpartition("~token~")[::2]

    def read(self, ids) -> None:
        """Reads the listings the next alerts name, those not read before."""
        missing = {i for i in ids if i not in self.shown}
        if missing:
            self.shown.update(_shown(list(missing)))

    def _text(self, language: str, count: int) -> str:
        key = (language, min(count, ALERT_LISTINGS + 1))
        if key not in self.texts:
            with translation.override(language):
                self.texts[key] = (
                    _("More than %(n)s new places for your search “%(name)s”.")
                    if count > ALERT_LISTINGS
                    else ngettext(
                        "%(n)s new place for your search “%(name)s”.",
                        "%(n)s new places for your search “%(name)s”.",
                        count,
                    )
                )
        return self.texts[key]

    def _line(self, pk: int, language: str) -> str:
        key = (pk, language)
        if key not in self.lines:
            self.lines[key] = self.mail.item(
                "listing", {"listing": self.shown[pk]}, language=language
            )
        return self.lines[key]

    def alert(self, saved_search: SavedSearch, ids: list[int]):
        """The alert's email (when chosen) and notification (unsaved), or None each."""
        user = saved_search.user
        language = user.language or settings.LANGUAGE_CODE
        with translation.override(language):
            n = in_digits(min(len(ids), ALERT_LISTINGS))  # in the reader's digits
        text = self._text(language, len(ids)) % {"n": n, "name": saved_search.name}
        query = saved_search.query
        if query not in self.search_urls:
            self.search_urls[query] = saved_search.get_absolute_url()
        search_url = self.search_urls[query]
        email = None
        if saved_search.email:
            # In the recipient's language, as render_templated_email chooses it.
            language = user.language or translation.get_language()
            shown = [i for i in ids[:ALERT_LISTINGS] if i in self.shown]
            email = self.mail.email(
                to=user.email,
                language=language,
                values={
                    "first_name": user.first_name,
                    "name": saved_search.name,
                    "text": text,
                    "listings": "".join(self._line(i, language) for i in shown),
                    "search_url": search_url,
                    "unsubscribe_url": saved_search.unsubscribe_token().join(
                        self.unsubscribe
                    ),
                },
            )
        notification = None
        if saved_search.notify:
            notification = Notification(
                user_id=user.pk,
                kind=Notification.Kind.SAVED_SEARCH,
                text=text,
                url=search_url,
            )
        return email, notification


def saved_search_alerts_run(*, now: dt.datetime | None = None) -> dict:
    """
    Alerts for every saved search that is due: the listings published since
    its last check that match it, in one email and one notification per search;
    then its check moves on, so a listing is never announced twice. The new
    listings are read once and each distinct set of filters matched against
    them once, in memory (searches.matching); the emails are filled in from
    pieces rendered once (MailMerge). Searches are taken in batches, each
    locked (skipping those another run holds), so two runs at once share the
    work instead of doubling it.
    """
    now = now or timezone.now()
    until = now - ALERT_LAG
    stats = {"checked": 0, "alerted": 0}
    oldest = SavedSearch.objects.due(now).aggregate(m=Min("checked_until"))["m"]
    if oldest is None:
        return stats
    window = Listing.objects.published().filter(
        published_at__gt=oldest, published_at__lte=until
    )
    rows = list(window.order_by("-published_at", "-id").values(*ROW_FIELDS))
    new = NewListings(rows, window=window)
    alerts = _Alerts()
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
            batch = (
                batch.select_related("user").only(*BATCH_FIELDS)
                if rows
                else batch.only(*DUE_FIELDS)  # Nothing new: no alert to make.
            )
            batch = [s for s in batch if s.is_due(now)]
            if not batch:
                continue
            found = _matching(batch, new) if rows else {}
            alerts.read(i for ids in found.values() for i in ids[:ALERT_LISTINGS])
            emails, notifications = [], []
            for saved_search in batch:
                ids = found.get(saved_search.pk)
                if ids:
                    email, notification = alerts.alert(saved_search, ids)
                    if email:
                        emails.append(email)
                    if notification:
                        notifications.append(notification)
            notifications_add(notifications=notifications)
            for first in range(0, len(emails), EMAILS_PER_TASK):
                send_templated_emails(emails[first : first + EMAILS_PER_TASK])
            SavedSearch.objects.filter(pk__in=[s.pk for s in batch]).update(
                checked_until=until
            )
            if found:
                SavedSearch.objects.filter(pk__in=found).update(last_alert_at=now)
            stats["checked"] += len(batch)
            stats["alerted"] += len(found)
    return stats
