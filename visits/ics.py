"""An iCalendar (RFC 5545) file with one event for a visit."""

import datetime as dt
import re
import unicodedata

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from visits.models import Visit

STATUS = {
    Visit.Status.PENDING: "TENTATIVE",
    Visit.Status.PROPOSED: "TENTATIVE",
    Visit.Status.CONFIRMED: "CONFIRMED",
    Visit.Status.DONE: "CONFIRMED",
    Visit.Status.NO_SHOW: "CONFIRMED",
    Visit.Status.DECLINED: "CANCELLED",
    Visit.Status.CANCELLED: "CANCELLED",
}


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# Line breaks of every kind become the two characters "\n" of RFC 5545.
_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def _escape(text: str) -> str:
    """
    A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped,
    every kind of line break written as "\n", a tab as a space, and any other
    control character dropped, so no value can end its line and start a
    property (an attendee, an alarm, a second event) of its own.
    """
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    text = _LINE_BREAKS.sub("\\\\n", text).replace("\t", " ")
    return "".join(char for char in text if unicodedata.category(char) != "Cc")


def _fold(line: str) -> str:
    """
    Splits a content line into pieces of at most 75 octets (RFC 5545 3.1),
    counting UTF-8 bytes and never cutting a character in two; each
    continuation starts with a space, which counts towards its 75.
    """
    parts, current, size = [], [], 0
    for char in line:
        width = len(char.encode())
        limit = 75 if not parts else 74
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def visit_calendar(visit: Visit, *, request=None) -> str:
    listing = visit.listing
    url = (
        request.build_absolute_uri(visit.get_absolute_url())
        if request
        else settings.SITE_URL + visit.get_absolute_url()
    )
    place = ", ".join(
        part
        for part in (listing.street, listing.landmark, str(listing.locality))
        if part
    )
    description = _(
        "Visit to “%(title)s” with %(owner)s and %(tenant)s. Details: %(url)s"
    ) % {
        "title": listing.title,
        "owner": listing.owner.first_name,
        "tenant": visit.tenant.first_name,
        "url": url,
    }
    host = url.split("/")[2] if "://" in url else "localhost"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{settings.SITE_NAME}//Visits//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:visit-{visit.pk}@{host}",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"DTSTART:{_utc(visit.slot.starts_at)}",
        f"DTEND:{_utc(visit.slot.ends_at)}",
        f"SUMMARY:{_escape(_('House visit: %(title)s') % {'title': listing.title})}",
        f"LOCATION:{_escape(place)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{url}",
        f"STATUS:{STATUS[visit.status]}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
