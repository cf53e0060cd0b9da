"""deploy/prometheus and deploy/grafana: valid, tested, and about metrics that exist."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from listings.tests.factories import ListingFactory
from nobroker import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "nobroker.json"
# Metrics that come from elsewhere than the site (the blackbox exporter's probe).
EXTERNAL = {"probe_success"}
PROMQL_WORDS = {
    "sum",
    "rate",
    "max",
    "min",
    "by",
    "le",
    "histogram_quantile",
    "clamp_min",
    "round",
    "view",
    "use",
    "pool",
    "status",
    "result",
    "job",
    "instance",
    "pid",
}

ALERTS = {
    "NobrokerErrorRateHigh": "nobroker:http_error_ratio:rate5m",
    "NobrokerPagesSlow": "nobroker:http_latency_p95:5m",
    "NobrokerCacheHitRateLow": "nobroker:cache_hit_ratio:rate10m",
    "NobrokerDatabasePoolNearlyFull": "nobroker:db_pool_use_ratio:max",
    "NobrokerNotReady": 'probe_success{job="nobroker-readyz"}',
    "NobrokerTasksStuck": "nobroker:tasks_oldest_waiting_seconds:max",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    return path


def test_promtool_checks_the_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_promtool_unit_tests_fire_each_alert_and_only_then():
    result = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = (RULES.parent / "rules_test.yml").read_text()
    for alert in ALERTS:
        assert f"alertname: {alert}" in tests


def test_promtool_checks_the_example_configuration():
    result = subprocess.run(
        [promtool(), "check", "config", "--syntax-only", "prometheus.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_exists_and_has_a_dashboard_panel():
    rules = RULES.read_text()
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for alert, expression in ALERTS.items():
        assert f"alert: {alert}" in rules
        assert any(expression in expr for expr in exprs), alert
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def _metric_names(text: str) -> set[str]:
    text = re.sub(r'"[^"]*"', "", text)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    names = set(re.findall(r"\b[a-z_][a-z0-9_:]*\b", text))
    return {
        name
        for name in names - PROMQL_WORDS
        if name.startswith(("nobroker_", "nobroker:", "probe_"))
    }


@pytest.mark.django_db
def test_every_metric_the_rules_and_dashboard_use_is_exposed(settings, tenant):
    """A typo in a metric name would leave a panel empty and an alert silent."""
    settings.METRICS_TOKEN = "t0ken-for-the-test"
    client = Client()
    listing = ListingFactory()
    client.force_login(tenant)
    client.get(reverse("listings:search"))
    client.get(listing.get_absolute_url())
    client.get("/no-such-page/")
    # An unhandled exception, as the handler would report one.
    request = RequestFactory().get("/")
    request.resolver_match = None
    metrics.MetricsMiddleware(lambda r: None).process_exception(request, ValueError())
    exposed = set()
    scrape = client.get(
        "/metrics", headers={"Authorization": "Bearer t0ken-for-the-test"}
    )
    for family in text_string_to_metric_families(scrape.content.decode()):
        exposed |= {sample.name for sample in family.samples}
    rules = RULES.read_text()
    recorded = set(re.findall(r"record: (\S+)", rules))
    expressions = "\n".join(
        re.findall(r"expr: \|?\s*(.*?)(?=\n\s+[a-z]+:|\Z)", rules, re.S)
    )
    dashboard = json.loads(DASHBOARD.read_text())
    expressions += "\n".join(
        t["expr"] for p in dashboard["panels"] for t in p["targets"]
    )
    used = _metric_names(expressions) - recorded - EXTERNAL
    # The pool's figures exist on PostgreSQL only.
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        used -= {n for n in used if n.startswith("nobroker_db_pool")}
    assert used, expressions
    assert used <= exposed, used - exposed
