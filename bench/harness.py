"""
What every benchmark needs: the real backends, the app under daphne, concurrent
load over HTTP, the same SQL replayed raw through psycopg, and the statistics.
"""

import asyncio
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"

SERVER_TIMING = re.compile(
    r'db;dur=(?P<db>[\d.]+);desc="(?P<queries>\d+) queries", total;dur=(?P<total>[\d.]+)'
)
# Statements a captured request runs that only make sense inside Django's
# transaction handling; the raw replay runs in autocommit.
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def require_backends() -> tuple[str, str]:
    """The benchmarks measure PostgreSQL and Redis, never the embedded defaults."""
    database_url = os.environ.get("DATABASE_URL", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if not database_url.startswith(("postgres://", "postgresql://")) or not (
        redis_url.startswith(("redis://", "rediss://"))
    ):
        raise SystemExit(
            "The benchmarks measure the real backends. Set DATABASE_URL=postgres://... "
            "and REDIS_URL=redis://..., pointing at a database and a Redis database "
            "used for nothing else: the benchmark loads up to a million listings "
            "into the database and clears that Redis database."
        )
    return database_url, redis_url


def app_environment() -> dict[str, str]:
    """The environment the app runs with here: production settings on loopback."""
    env = dict(os.environ)
    env.pop("DJANGO_DEBUG", None)
    env.setdefault("DJANGO_SETTINGS_MODULE", "nobroker.settings")
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    env["LOCAL_HTTP"] = "1"
    env["SERVER_TIMING"] = "1"
    return env


def setup_django() -> None:
    """Configures Django in this process exactly as the server is configured."""
    os.environ.update(app_environment())
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("No free port on 127.0.0.1.")


@contextmanager
def daphne_server(
    port: int, log_path: Path, *, cwd: Path = BASE_DIR, env: dict | None = None
):
    """Runs the ASGI app under one daphne process, as the Procfile does (from
    `cwd`, another checkout of the code, when given)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "nobroker.asgi:application",
            ],
            cwd=cwd,
            env=env or app_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SystemExit(
                        f"daphne stopped at start:\n{log_path.read_text()[-2000:]}"
                    )
                try:
                    with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            "daphne did not answer /healthz in 60 s."
                        ) from None
                    time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Sample:
    latency_ms: float
    status: int
    server_ms: float | None = None
    db_ms: float | None = None
    queries: int | None = None


@contextmanager
def daphne_servers(ports: list[int], log_dir: Path, **options):
    """Runs one daphne process per port, as the Procfile's `web` scaled out."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                daphne_server(port, log_dir / f"daphne-{port}.log", **options)
            )
            for port in ports
        ]


async def run_workers(
    work: Callable[[int], Awaitable],
    *,
    count: int,
    duration: float,
    concurrency: int,
    warmup: int,
) -> list:
    """
    Calls `work(i)` for i = 0, 1, 2... from `concurrency` workers at once.

    First `warmup` calls whose results are dropped (for at most a fifth of
    `duration`, five seconds at most), then `count` measured calls or
    `duration` seconds of them, whichever comes first. A call under way when
    time is up still finishes.
    """
    next_index = 0

    async def phase(calls: int, seconds: float, results: list | None):
        nonlocal next_index
        last = next_index + calls
        deadline = time.monotonic() + seconds

        async def worker():
            nonlocal next_index
            while next_index < last and time.monotonic() < deadline:
                index = next_index
                next_index += 1
                result = await work(index)
                if results is not None:
                    results.append(result)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await phase(warmup, min(5.0, duration / 5), None)
    results = []
    await phase(count, duration, results)
    return results


PEOPLE = 64


def person_address(index: int) -> str:
    """A loopback source address of its own for client `index` (all of 127/8
    is loopback): the servers under test listen on 127.0.0.1."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


async def http_load(
    base_url: str | list[str],
    path_for: Callable[[int], str],
    *,
    before_each: Callable[[], Awaitable] | None = None,
    headers: dict[str, str] | None = None,
    **options,
) -> list[Sample]:
    """Requests `path_for(i)` concurrently; times each on the client and reads
    the server's own time from its Server-Timing header."""
    import aiohttp

    # Several servers (one per process, as a load balancer would spread the
    # requests): request i goes to server i mod n.
    base_urls = [base_url] if isinstance(base_url, str) else list(base_url)
    timeout = aiohttp.ClientTimeout(total=60)
    # The requests come from PEOPLE loopback addresses in turn, so the site's
    # per-address limits see many people, as in production, not one client.
    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=options["concurrency"] * len(base_urls),
                        local_addr=(person_address(person), 0),
                    ),
                    timeout=timeout,
                    headers=headers,
                )
            )
            for person in range(PEOPLE)
        ]

        async def work(index: int) -> Sample:
            if before_each:
                await before_each()
            session = sessions[index % PEOPLE]
            url = base_urls[index % len(base_urls)] + path_for(index)
            started = time.perf_counter()
            try:
                async with session.get(url, allow_redirects=False) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                # Counted as status 0: a refused or timed-out request is a result.
                return Sample((time.perf_counter() - started) * 1000, 0)
            sample = Sample((time.perf_counter() - started) * 1000, response.status)
            match = SERVER_TIMING.search(response.headers.get("Server-Timing", ""))
            if match:
                sample.server_ms = float(match["total"])
                sample.db_ms = float(match["db"])
                sample.queries = int(match["queries"])
            return sample

        return await run_workers(work, **options)


async def sql_load(
    database_url: str, statements_for: Callable[[int], list[str]], **options
) -> list[float]:
    """Runs the statements of request i raw through psycopg, one connection per
    worker; returns the time of each request's statements in milliseconds."""
    import psycopg

    connections = [
        await psycopg.AsyncConnection.connect(database_url, autocommit=True)
        for _ in range(options["concurrency"])
    ]
    free = list(connections)

    async def work(index: int) -> float:
        conn = free.pop()
        try:
            started = time.perf_counter()
            async with conn.cursor() as cursor:
                for sql in statements_for(index):
                    await cursor.execute(sql.encode())
                    if cursor.description is not None:
                        await cursor.fetchall()
            return (time.perf_counter() - started) * 1000
        finally:
            free.append(conn)

    try:
        return await run_workers(work, **options)
    finally:
        for conn in connections:
            await conn.close()


def replayable(statements: list[str]) -> list[str]:
    return [
        sql for sql in statements if not sql.upper().startswith(TRANSACTION_CONTROL)
    ]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "mean": sum(values) / len(values) if values else None,
    }


def status_counts(samples: list[Sample]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(s.status for s in samples).items())}


def machine_notes(database_url: str) -> dict:
    import psycopg

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 1024**3)
    except (ValueError, OSError):
        pass
    with psycopg.connect(database_url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "work_mem", "effective_cache_size")
        }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "postgresql": server_version,
        "postgresql_settings": settings,
    }


def code_version() -> str:
    """The commit being measured (with "+changes" for uncommitted work)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def replace_readme_section(name: str, text: str) -> None:
    """Puts `text` between the <!-- name --> markers of bench/README.md."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    readme = README.read_text() if README.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in readme and end in readme:
        before = readme.split(start, 1)[0]
        after = readme.split(end, 1)[1]
        readme = before + block + after
    else:
        readme = readme.rstrip() + "\n\n" + block + "\n"
    README.write_text(readme)
