"""An iCalendar (RFC 5545) file with one event for a visit."""

import datetime as dt

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


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Splits a content line into pieces of at most 75 octets (RFC 5545 3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        piece = char.encode()
        limit = 75 if not parts else 74
        if len(current) + len(piece) > limit:
            parts.append(current.decode())
            current = b""
        current += piece
    parts.append(current.decode())
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
