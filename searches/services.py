import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.emails import send_templated_email
from accounts.models import Notification, User
from accounts.notifications import notification_send
from listings.models import Listing
from listings.search import build_search
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
    return SavedSearch.objects.create(
        user=user,
        name=name,
        query=clean_query(query),
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


def _new_matches(saved_search: SavedSearch, *, since, until) -> tuple[list, int]:
    search = build_search(QueryDict(saved_search.query))
    found = list(
        search.queryset()
        .filter(published_at__gt=since, published_at__lte=until)
        .select_related("locality")
        .only("id", "slug", "title", "rent", "locality__name", "published_at")[
            : ALERT_LISTINGS + 1
        ]
    )
    return found[:ALERT_LISTINGS], len(found)


def _alert(saved_search: SavedSearch, listings: list, count: int) -> None:
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
        ) % {"n": min(count, ALERT_LISTINGS), "name": saved_search.name}
        context = {
            "saved_search": saved_search,
            "listings": listings,
            "more": more,
            "search_url": saved_search.get_absolute_url(),
            "unsubscribe_url": saved_search.unsubscribe_url(),
        }
        if saved_search.notify:
            notification_send(
                user=user,
                kind=Notification.Kind.SAVED_SEARCH,
                text=text,
                url=saved_search.get_absolute_url(),
                email_template="searches/emails/alert",
                email_context=context,
                email=saved_search.email,
            )
        elif saved_search.email:
            send_templated_email(
                to=user.email,
                template="searches/emails/alert",
                context={"user": user, "text": text, **context},
            )


def saved_search_alerts_run(*, now: dt.datetime | None = None) -> dict:
    """
    Alerts for every saved search that is due: the listings published since
    its last check that match it, in one email and one notification per search;
    then its check moves on, so a listing is never announced twice. Searches are
    taken in batches, each locked (skipping those another run holds), so two
    runs at once share the work instead of doubling it.
    """
    now = now or timezone.now()
    until = now - ALERT_LAG
    latest = Listing.objects.published().aggregate(m=Max("published_at"))["m"]
    stats = {"checked": 0, "alerted": 0}
    after = 0
    while True:
        with transaction.atomic():
            batch = SavedSearch.objects.due(now).filter(pk__gt=after).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                batch = batch.select_for_update(skip_locked=True, of=("self",))
            batch = list(batch.select_related("user")[:BATCH])
            if not batch:
                break
            after = batch[-1].pk
            alerted = []
            for saved_search in batch:
                if latest is None or latest <= saved_search.checked_until:
                    continue
                listings, count = _new_matches(
                    saved_search, since=saved_search.checked_until, until=until
                )
                if listings:
                    _alert(saved_search, listings, count)
                    alerted.append(saved_search.pk)
            SavedSearch.objects.filter(pk__in=[s.pk for s in batch]).update(
                checked_until=until
            )
            if alerted:
                SavedSearch.objects.filter(pk__in=alerted).update(last_alert_at=now)
            stats["checked"] += len(batch)
            stats["alerted"] += len(alerted)
    return stats
