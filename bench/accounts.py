"""
Does the answer's time tell whether an address has an account?

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.accounts

Posts the password-reset form and the sign-up form over HTTP to daphne
(production settings: the real password hasher, emails queued for the worker
with TASKS_BACKEND=database), alternating an address that has an account with
one that has none, one request at a time, and compares the two. The Redis
database is cleared before each post so that rate limits never answer instead
of the view. Accounts it creates end in @bench.example and are deleted at the end.
"""

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import re
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from bench import harness

KNOWN = "bench-known@bench.example"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="posts per kind")
    parser.add_argument("--port", type=int, default=9240)
    return parser.parse_args(argv)


class Browser:
    """One visitor: a cookie jar, no redirects followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            self._NoRedirect,
        )

    def token(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return CSRF.search(response.read().decode()).group(1)

    def timed_post(self, path: str, data: dict) -> tuple[float, int]:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(
            self.base_url + path, data=body, headers={"Referer": self.base_url + path}
        )
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            error.read()
            status = error.code
        return (time.perf_counter() - started) * 1000, status


def measure(base_url, redis_client, count: int, post) -> dict:
    """`post(browser, exists, i)` for exists = True, False in turn, `count` each."""
    times = {True: [], False: []}
    statuses = {True: {}, False: {}}
    for i in range(count * 2 + 4):
        exists = i % 2 == 0
        redis_client.flushdb()
        elapsed, status = post(Browser(base_url), exists, i)
        if i < 4:  # warm-up
            continue
        times[exists].append(elapsed)
        statuses[exists][str(status)] = statuses[exists].get(str(status), 0) + 1
    existing, other = harness.summary(times[True]), harness.summary(times[False])
    return {
        "existing": existing,
        "not_existing": other,
        "statuses": {"existing": statuses[True], "not_existing": statuses[False]},
        "p50_ratio": existing["p50"] / other["p50"],
    }


def reset_post(browser, exists, i):
    token = browser.token("/accounts/password/reset/")
    email = KNOWN if exists else f"nobody-{i}@bench.example"
    return browser.timed_post(
        "/accounts/password/reset/",
        {"csrfmiddlewaretoken": token, "email": email},
    )


def sign_up_post(browser, exists, i):
    token = browser.token("/accounts/signup/")
    email = KNOWN if exists else f"new-{time.time_ns()}-{i}@bench.example"
    password = "Bench-pass-2026-x"
    return browser.timed_post(
        "/accounts/signup/",
        {
            "csrfmiddlewaretoken": token,
            "full_name": "Bench Person",
            "email": email,
            "phone": "",
            "role": "tenant",
            "password1": password,
            "password2": password,
        },
    )


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    database_url, redis_url = harness.require_backends()
    # As in production: emails are queued for the worker, not sent in the request.
    os.environ["TASKS_BACKEND"] = "database"
    harness.setup_django()
    import redis
    from django.core.management import call_command

    from accounts.models import User

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    User.objects.filter(email__endswith="@bench.example").delete()
    User.objects.create_user(email=KNOWN, full_name="Bench Known", password="x-Known-9")
    redis_client = redis.from_url(redis_url)
    port = harness.free_port(args.port)
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    try:
        with harness.daphne_server(
            port, harness.RESULTS_DIR / "daphne-accounts.log"
        ) as base_url:
            results = {
                "password_reset": measure(
                    base_url, redis_client, args.requests, reset_post
                ),
                "sign_up": measure(base_url, redis_client, args.requests, sign_up_post),
            }
    finally:
        User.objects.filter(email__endswith="@bench.example").delete()
    command = "python -m bench.accounts" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    report = {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "code": harness.code_version(),
        "machine": harness.machine_notes(database_url),
        "results": results,
    }
    (harness.RESULTS_DIR / "accounts.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"Measured {report['generated_at']} at {report['code']} with `{command}` "
        f"({report['machine']['cores']} cores, shared with other work). Milliseconds "
        "on the client, one request at a time; the ratio is p50 with an account "
        "over p50 without.",
        "",
        "| form | address | n | p50 | p95 | p99 | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        for kind in ("existing", "not_existing"):
            s = result[kind]
            ratio = f"{result['p50_ratio']:.2f}" if kind == "existing" else ""
            label = "has an account" if kind == "existing" else "has none"
            lines.append(
                f"| {name.replace('_', ' ')} | {label} | {s['n']} | {harness.fmt(s['p50'])} "
                f"| {harness.fmt(s['p95'])} | {harness.fmt(s['p99'])} | {ratio} |"
            )
    table = "\n".join(lines)
    harness.replace_readme_section("accounts-results", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
