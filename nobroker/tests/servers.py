"""Throwaway servers for tests that need a real process: daphne on a free port."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import _free_port

BASE_DIR = Path(__file__).resolve().parents[2]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.1)


def start_daphne(env: dict) -> tuple[subprocess.Popen, str]:
    """The project served by daphne with `env`, on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).with_name("daphne")),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "nobroker.asgi:application",
        ],
        cwd=BASE_DIR,
        env=env,
    )

    def up():
        if process.poll() is not None:
            pytest.fail("daphne exited while starting")
        return port_open(port)

    wait_for(up, 30, "daphne start")
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
