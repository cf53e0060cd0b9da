"""The endpoint browsers send Content-Security-Policy violation reports to."""

import json
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("nobroker.csp")

# The report fields worth logging, in both report formats (report-uri's
# "csp-report" object and the Reporting API's "body").
FIELDS = {
    "document-uri": "document",
    "documentURL": "document",
    "blocked-uri": "blocked",
    "blockedURL": "blocked",
    "violated-directive": "directive",
    "effective-directive": "directive",
    "effectiveDirective": "directive",
    "disposition": "disposition",
    "source-file": "source",
    "sourceFile": "source",
    "line-number": "line",
    "lineNumber": "line",
}


def _without_query(value):
    """A URL without its query and fragment, which may carry tokens."""
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if not parts.scheme:
        return value[:200]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]


def _reports(payload) -> list[dict]:
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        return [
            item["body"]
            for item in payload
            if isinstance(item, dict) and isinstance(item.get("body"), dict)
        ]
    return []


@csrf_exempt  # Browsers send reports without a token, by design.
@require_POST
def csp_report(request):
    """Logs each violation in a few fields; 204, or 413 for an oversize body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    body = request.read(settings.CSP_REPORT_MAX_BYTES + 1)
    if len(body) > settings.CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    try:
        payload = json.loads(body)
    except ValueError:
        return HttpResponse("The report is not JSON.", status=400)
    reports = _reports(payload)
    if not reports:
        return HttpResponse("No CSP report found.", status=400)
    for report in reports[:10]:
        fields = {
            name: _without_query(report[key])
            for key, name in FIELDS.items()
            if key in report
        }
        logger.warning("CSP violation: %s", json.dumps(fields, sort_keys=True))
    return HttpResponse(status=204)
