"""No file of the project keeps a merge's conflict markers (a README once did)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_has_conflict_markers():
    try:
        listed = subprocess.run(  # noqa: S603
            ["git", "ls-files", "-z"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing lists the project's files")
    found = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if path.suffix in {".woff2", ".png", ".jpg", ".webp", ".mo", ".ico", ".gif"}:
            continue
        try:
            if MARKER.search(path.read_bytes()):
                found.append(name)
        except OSError:
            continue
    assert found == [], f"conflict markers left in: {', '.join(found)}"
