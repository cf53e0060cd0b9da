"""
Checks that every process of the deployment together stays under 80 % of
PostgreSQL's connections (docs/capacity.md has the formula).

    connections = machines x (page processes x page pool
                              + websocket processes x (websocket pool + 4)
                              + workers x worker pool + scheduled commands)

Each websocket process also keeps up to 4 connections of its own for the chat's
hot path (nobroker/async_db.py). Every figure comes from the environment the
processes run with (deploy/env.example), or from the options; the server's
max_connections, less the connections kept for superusers, is asked of the
primary and of every replica.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from nobroker import async_db

SHARE = 0.8


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


class Command(BaseCommand):
    help = (
        "Checks that all processes' connection pools fit PostgreSQL's max_connections."
    )

    def add_arguments(self, parser):
        pool = _env_int("DATABASE_POOL_MAX", 20)
        options = {
            "--machines": ("MACHINES", 1, "machines running the processes below"),
            # gunicorn's own default (deploy/gunicorn.conf.py): twice the cores.
            "--page-processes": (
                "WEB_CONCURRENCY",
                2 * (os.cpu_count() or 1),
                "page processes per machine",
            ),
            "--page-pool": ("PAGE_POOL_MAX", pool, "pool size of a page process"),
            "--websocket-processes": (
                "WEBSOCKET_PROCESSES",
                1,
                "websocket processes per machine",
            ),
            "--websocket-pool": (
                "WEBSOCKET_POOL_MAX",
                pool,
                "pool size of a websocket process",
            ),
            "--workers": ("WORKER_PROCESSES", 1, "task workers per machine"),
            "--worker-pool": ("WORKER_POOL_MAX", pool, "pool size of a worker"),
            "--commands": ("SCHEDULED_COMMANDS", 2, "scheduled commands at once"),
        }
        for flag, (variable, default, text) in options.items():
            parser.add_argument(
                flag,
                type=int,
                default=_env_int(variable, default),
                help=f"{text} (${variable}, else {default})",
            )
        parser.add_argument(
            "--max-connections",
            type=int,
            help="plan for a server with this many connections instead of asking it",
        )

    def handle(self, *args, **options):
        websocket_extra = async_db.MAX_CONNECTIONS if async_db.enabled() else 0
        per_machine = (
            options["page_processes"] * options["page_pool"]
            + options["websocket_processes"]
            * (options["websocket_pool"] + websocket_extra)
            + options["workers"] * options["worker_pool"]
            + options["commands"]
        )
        needed = options["machines"] * per_machine
        self.stdout.write(
            f"{options['machines']} machine(s) x ("
            f"{options['page_processes']} page x {options['page_pool']} + "
            f"{options['websocket_processes']} websocket x "
            f"({options['websocket_pool']} + {websocket_extra}) + "
            f"{options['workers']} worker x {options['worker_pool']} + "
            f"{options['commands']} commands) = {needed} connections"
        )
        over = []
        for alias in ["default", *getattr(settings, "DATABASE_REPLICAS", ())]:
            limit = options["max_connections"] or self._server_limit(alias)
            allowed = int(limit * SHARE)
            verdict = "ok" if needed <= allowed else "OVER"
            self.stdout.write(
                f"{alias}: {needed} of {allowed} allowed "
                f"({SHARE:.0%} of {limit} usable connections): {verdict}"
            )
            if needed > allowed:
                over.append(alias)
        if over:
            raise CommandError(
                f"The pools need {needed} connections, more than {SHARE:.0%} of what "
                f"{', '.join(over)} accepts: lower the pool sizes or the process "
                "counts, raise max_connections, or put PgBouncer in front "
                "(docs/capacity.md)."
            )

    def _server_limit(self, alias: str) -> int:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            raise CommandError("The connection budget is a PostgreSQL check.")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
            )
            return cursor.fetchone()[0]
