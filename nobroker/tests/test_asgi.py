import gc
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_what_the_server_loads_at_startup_is_left_out_of_garbage_collection():
    # A fresh interpreter: this test process may have imported the module long ago.
    script = (
        "import gc, nobroker.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DJANGO_TESTING": "1"},
        check=True,
    )
    frozen, tracked = (int(n) for n in result.stdout.split())
    # Django, the project and the libraries: tens of thousands of objects that
    # each full collection would otherwise walk while every socket waits.
    assert frozen > 20_000
    assert tracked < frozen / 10
    assert gc.isenabled()
