"""`make run` tells the site the address it serves on, so emails link there."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shutil.which("make"), reason="needs make")


def _server_line(**env) -> str:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT", "HOST"}
    }
    output = subprocess.run(  # noqa: S603
        ["make", "-n", "run"],  # noqa: S607
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line for line in output.splitlines() if "daphne" in line)


def _site_url_seen_by_django(line: str) -> str:
    """Runs the server line's environment with Python in place of daphne."""
    environment = line.split(" exec ", 1)[0]
    program = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.SITE_URL)"
    )
    command = f"{environment} {sys.executable} -c '{program}'"
    return subprocess.run(  # noqa: S603
        ["bash", "-c", command],  # noqa: S607
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "nobroker.settings",
            "DJANGO_TESTING": "1",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_site_url_follows_the_port_the_site_is_started_on():
    line = _server_line(PORT="8081")
    assert re.search(r"-p 8081\b", line)
    assert 'SITE_URL="http://127.0.0.1:8081"' in line
    assert _site_url_seen_by_django(line) == "http://127.0.0.1:8081"


def test_site_url_follows_the_host_too():
    line = _server_line(HOST="0.0.0.0", PORT="9000")  # noqa: S104
    assert 'SITE_URL="http://0.0.0.0:9000"' in line


def test_a_site_url_that_is_set_wins():
    line = _server_line(PORT="8081", SITE_URL="https://rent.example.np")
    assert _site_url_seen_by_django(line) == "https://rent.example.np"
