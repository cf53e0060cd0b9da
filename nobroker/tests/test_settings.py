"""Start-up behaviour that depends on the environment, checked in fresh processes."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, **env)


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python ARGS` (a script, or `-c CODE` when the first is code) in a clean
    environment plus `env`."""
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "AWS_", "SENTRY_", "EMAIL_", "DATABASE_"))
        and key not in {"LOCAL_HTTP", "PYTEST_CURRENT_TEST"}
    }
    clean_env.update(env)
    if not args[0].endswith(".py"):
        args = ("-c", *args)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_up_without_secret_key_stops_with_a_clear_message():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_deploy_check_passes_with_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="nobroker.example.com",
        CSRF_TRUSTED_ORIGINS="https://nobroker.example.com",
        EMAIL_HOST="smtp.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_by_default_and_hosts_never_allow_all():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.ALLOWED_HOSTS, settings.SESSION_ENGINE)",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False [] nobroker.sessions"


def test_web_processes_cap_each_sql_statement_and_commands_do_not():
    env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        # Never connected to: the settings are only read.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    show = (
        "from django.db import connection; "
        "print(connection.settings_dict['OPTIONS'].get('options'))"
    )
    command = run_manage("shell", "--no-imports", "-c", show, **env)
    assert command.stdout.strip() == "None", command.stderr
    for module in ("nobroker.asgi", "nobroker.wsgi"):
        web = run_python(f"import {module}; {show}", **env)
        assert web.stdout.strip() == "-c statement_timeout=15000", web.stderr
    lower = run_python(
        f"import nobroker.asgi; {show}", DATABASE_STATEMENT_TIMEOUT="2500", **env
    )
    assert lower.stdout.strip() == "-c statement_timeout=2500", lower.stderr
