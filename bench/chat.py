"""
Chat benchmark: daphne serving the project over loopback, with PostgreSQL and
Redis, measured beside a bare `websockets` relay in the same run.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.chat

For each channel layer (Redis core, Redis pub/sub) in one daphne process, then
for Redis pub/sub in `--processes` daphne processes on as many ports (sockets
spread over them as a load balancer would, groups shared through Redis), and
for the bare relay, it connects 1,000 and then 5,000 sockets (all but the
active ones idle on the header-badge socket), runs 100 active pairs exchanging
250 messages per second in all, and reports the latency from sending a message
to the other person receiving it (p50/p95/p99), the delivery rate, the
server's CPU time per message and its memory per idle socket (RSS before and
after connecting them). Results go to bench/results/chat.json and
bench/results/chat.md. Loopback only; a few minutes.

`--churn N` measures something else instead: N times, a person opens a page
(the badge socket) and a conversation and closes both, each time another
person; it reports the channel layer's group subscriptions in Redis and the
server's memory before and after (bench/results/chat-churn.json).
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.harness import person_address

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
PAIRS = 100
RATE = 250  # messages per second, all pairs together
DURATION = 10  # seconds of load per measurement
SOCKET_COUNTS = (1000, 5000)
LAYERS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    # The project's default: channels_redis's pub/sub layer with group sends
    # batched into one trip (nobroker.channel_layers).
    "redis-pubsub": "nobroker.channel_layers.RedisPubSubChannelLayer",
    # channels_redis's pub/sub layer as shipped, for comparison (not run by default).
    "redis-pubsub-plain": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
DEFAULT_LAYERS = "redis,redis-pubsub"
PROCESSES = 2  # daphne processes for the scaled-out measurement
EMAIL_DOMAIN = "bench.invalid"
CHURN_STEP = 500  # cycles between memory readings in --churn
# Cycles before the first reading: the server's thread pool, database and
# Redis connections and allocator arenas grow to their working size first.
CHURN_WARM_UP = 1000


# --- Helpers -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(needed, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        sys.exit(f"The open-file limit ({target}) is below the {needed} this needs.")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit(f"The server at {url} did not start.")
            time.sleep(0.2)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit(f"Nothing listens on port {port}.")
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# --- Data: users, conversations and sessions made in bulk ----------------------


@dataclass
class Fixtures:
    idle_sessions: list[str]
    # (conversation id, tenant id, tenant session, owner id, owner session)
    pairs: list[tuple[int, int, str, int, str]]
    session_keys: list[str] = field(default_factory=list)


def make_fixtures(idle_count: int) -> Fixtures:
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from listings.models import Listing, Locality
    from messaging.models import Conversation

    call_command("migrate", verbosity=0, interactive=False)
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    password = make_password(None)

    def users(prefix, count, role):
        return User.objects.bulk_create(
            User(
                email=f"{prefix}{n}@{EMAIL_DOMAIN}",
                full_name=f"Bench {prefix.title()} {n}",
                role=role,
                password=password,
                email_verified=True,
            )
            for n in range(count)
        )

    idle = users("idle", idle_count, User.Role.TENANT)
    tenants = users("tenant", PAIRS, User.Role.TENANT)
    owners = users("owner", PAIRS, User.Role.OWNER)
    locality = Locality.objects.first()
    if locality is None:
        sys.exit("No localities: the listings migrations did not run.")
    listings = Listing.objects.bulk_create(
        Listing(
            owner=owner,
            title=f"Bench flat {n}",
            slug=f"bench-flat-{n}",
            description="A flat for the chat benchmark.",
            property_type=Listing.PropertyType.FLAT,
            locality=locality,
            rent=20000,
            bike_parking=1,
            car_parking=0,
            water_source=Listing.WaterSource.MUNICIPAL,
            water_hours=4,
            electricity_billing=Listing.ElectricityBilling.SUBMETER,
            status=Listing.Status.PUBLISHED,
        )
        for n, owner in enumerate(owners)
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(listing=listing, tenant=tenant, owner=listing.owner)
        for listing, tenant in zip(listings, tenants, strict=True)
    )

    store = SessionStore()
    expires = timezone.now() + timedelta(hours=2)
    rows = []

    def session_for(user) -> str:
        key = secrets.token_hex(16)
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        rows.append(
            Session(
                session_key=key, session_data=store.encode(data), expire_date=expires
            )
        )
        return key

    fixtures = Fixtures(
        idle_sessions=[session_for(user) for user in idle],
        pairs=[
            (c.pk, c.tenant.pk, session_for(c.tenant), c.owner.pk, session_for(c.owner))
            for c in conversations
        ],
    )
    Session.objects.bulk_create(rows, batch_size=1000)
    fixtures.session_keys = [row.session_key for row in rows]
    return fixtures


def drop_fixtures(fixtures: Fixtures) -> None:
    from django.contrib.sessions.models import Session

    from accounts.models import User

    Session.objects.filter(session_key__in=fixtures.session_keys).delete()
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()


# --- Clients -------------------------------------------------------------------


class Target:
    """
    How to reach one server: the project under daphne, or the bare relay. With
    several daphne processes (`ports`), sockets are spread over them as a load
    balancer would: the two sides of a pair land on different processes when
    there are two or more, so every message crosses between processes.
    """

    def __init__(self, name: str, ports: list[int]):
        self.name = name
        self.ports = ports
        self.port = ports[0]

    def origin(self, url: str) -> str:
        return "http://" + url.split("/")[2]

    def port_for(self, n: int) -> int:
        return self.ports[n % len(self.ports)]

    def idle_url(self, n: int) -> str:
        raise NotImplementedError

    def active_url(self, pair: tuple, side: int) -> str:
        raise NotImplementedError

    def headers(self, session: str | None) -> dict:
        return {"Cookie": f"sessionid={session}"} if session else {}

    def payload(self, client_id: str, sender_id: int, body: str) -> str:
        raise NotImplementedError


class ProjectTarget(Target):
    def idle_url(self, n):
        return f"ws://{HOST}:{self.port_for(n)}/ws/messages/"

    def active_url(self, pair, side):
        return f"ws://{HOST}:{self.port_for(side)}/ws/messages/{pair[0]}/"

    def payload(self, client_id, sender_id, body):
        return json.dumps({"type": "message", "client_id": client_id, "body": body})


class RelayTarget(Target):
    def headers(self, session):
        return {}

    def idle_url(self, n):
        return f"ws://{HOST}:{self.port}/idle/{n}"

    def active_url(self, pair, side):
        return f"ws://{HOST}:{self.port}/pair/{pair[0]}/{side}"

    def payload(self, client_id, sender_id, body):
        # The relay forwards text as is, so the page's final shape is sent.
        return json.dumps(
            {
                "type": "message",
                "message": {
                    "client_id": client_id,
                    "sender_id": sender_id,
                    "body": body,
                },
            }
        )


async def connect_many(target: Target, specs: list[tuple[str, dict]], limit=16):
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(limit)
    failures = 0

    async def one(index, url, headers):
        nonlocal failures
        async with gate:
            last_error = None
            for attempt in range(3):
                try:
                    return await connect(
                        url,
                        origin=target.origin(url),
                        additional_headers=headers,
                        open_timeout=60,
                        ping_interval=None,
                        max_queue=None,
                        local_addr=(person_address(index), 0),
                    )
                except Exception as error:
                    last_error = error
                    await asyncio.sleep(0.5 * (attempt + 1))
            failures += 1
            if failures == 1:
                print(f"First failed connection: {last_error!r}", flush=True)
            return None

    sockets = await asyncio.gather(
        *(one(index, url, headers) for index, (url, headers) in enumerate(specs))
    )
    return [s for s in sockets if s is not None], failures


@dataclass
class LoadResult:
    sent: int
    delivered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    achieved_rate: float
    errors: dict


async def run_load(
    target: Target, active: list[tuple], duration: float, rate: float | None = None
) -> LoadResult:
    """
    `active`: (socket, own user id, peer index) for each side of each pair.
    Messages are sent round-robin over all active sockets at RATE per second;
    the latency is from sending to the other person receiving it.
    """
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    delivered: set[str] = set()
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()

    async def reader(ws, user_id):
        try:
            async for raw in ws:
                now = loop.time()
                event = json.loads(raw)
                if event.get("type") == "error":
                    errors[event.get("code")] = errors.get(event.get("code"), 0) + 1
                if event.get("type") != "message":
                    continue
                message = event["message"]
                client_id = message["client_id"]
                if (
                    message["sender_id"] != user_id
                    and client_id in sent_at
                    and client_id not in delivered
                ):
                    delivered.add(client_id)
                    latencies.append(now - sent_at[client_id])
        except Exception:  # noqa: BLE001 - a closed socket ends its reader
            return

    readers = [asyncio.create_task(reader(ws, uid)) for ws, uid, _peer in active]
    interval = 1 / (rate or RATE)
    start = loop.time()
    next_at = start
    n = 0
    while loop.time() - start < duration:
        ws, user_id, _peer = active[n % len(active)]
        client_id = str(uuid.uuid4())
        sent_at[client_id] = loop.time()
        # A failed send is counted as not delivered.
        with contextlib.suppress(Exception):
            await ws.send(target.payload(client_id, user_id, f"bench message {n}"))
        n += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    elapsed = loop.time() - start
    # An overloaded server delivers late rather than never: wait until every
    # message arrived, or nothing arrived for five seconds (at most a minute),
    # so the next step starts without a backlog.
    deadline = loop.time() + 60
    last_count, last_change = -1, loop.time()
    while len(delivered) < n and loop.time() < deadline:
        if len(delivered) != last_count:
            last_count, last_change = len(delivered), loop.time()
        elif loop.time() - last_change > 5:
            break
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    ms = [value * 1000 for value in latencies]
    return LoadResult(
        sent=n,
        delivered=len(delivered),
        p50_ms=round(percentile(ms, 50), 2),
        p95_ms=round(percentile(ms, 95), 2),
        p99_ms=round(percentile(ms, 99), 2),
        mean_ms=round(statistics.fmean(ms), 2) if ms else float("nan"),
        achieved_rate=round(n / elapsed, 1),
        errors=errors,
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def all_cpu_seconds() -> dict[int, float]:
    """
    User + system CPU time of every process on the machine so far, by pid.
    Read per process, as `cpu_seconds` is: the machine-wide counters of
    /proc/stat are sampled at each clock tick and miss most of the short
    bursts an event loop works in.
    """
    seconds = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            seconds[int(entry.name)] = cpu_seconds([int(entry.name)])
    return seconds


def rss_total_kib(pids: list[int]) -> int:
    return sum(rss_kib(pid) for pid in pids)


async def measure_server(
    target: Target, pids: list[int], fixtures: Fixtures
) -> list[dict]:
    """Connects the active pairs and idle sockets in steps, measuring each step."""
    active_specs = []
    active_users = []
    for pair in fixtures.pairs:
        _cid, tenant_id, tenant_session, owner_id, owner_session = pair
        active_specs.append(
            (target.active_url(pair, 0), target.headers(tenant_session))
        )
        active_specs.append((target.active_url(pair, 1), target.headers(owner_session)))
        active_users += [tenant_id, owner_id]
    await asyncio.sleep(1)
    rss_start = rss_total_kib(pids)
    active_sockets, active_failures = await connect_many(target, active_specs)
    if active_failures:
        sys.exit(f"{target.name}: {active_failures} active sockets failed to connect.")
    active = [
        (ws, uid, None) for ws, uid in zip(active_sockets, active_users, strict=True)
    ]
    # Warm up: the first messages pay for imports and connection pools.
    await run_load(target, active, 3, rate=20)
    idle_sockets = []
    idle_failures = 0
    rows = []
    for total in SOCKET_COUNTS:
        wanted = total - len(active) - len(idle_sockets)
        start_n = len(idle_sockets)
        specs = [
            (target.idle_url(n), target.headers(fixtures.idle_sessions[n]))
            for n in range(start_n, start_n + wanted)
        ]
        rss_before = rss_total_kib(pids)
        began = time.monotonic()
        new, failures = await connect_many(target, specs)
        connect_seconds = time.monotonic() - began
        idle_sockets += new
        idle_failures += failures
        await asyncio.sleep(2)
        rss_after = rss_total_kib(pids)
        cpu_before = cpu_seconds(pids)
        everyone_before = all_cpu_seconds()
        step_began = time.monotonic()
        load = await run_load(target, active, DURATION)
        cpu_used = cpu_seconds(pids) - cpu_before
        everyone = all_cpu_seconds()
        step_seconds = time.monotonic() - step_began
        # Everything but the server and this load generator: PostgreSQL and
        # Redis serving the step, and whatever else shares the machine.
        rest = sum(
            used - everyone_before.get(pid, 0.0)
            for pid, used in everyone.items()
            if pid not in pids and pid != os.getpid()
        )
        rows.append(
            {
                "server": target.name,
                "processes": len(pids),
                "sockets": len(active) + len(idle_sockets),
                "socket_failures": idle_failures,
                "connect_per_s": round(len(new) / connect_seconds, 1),
                "rss_start_mib": round(rss_start / 1024, 1),
                "rss_mib": round(rss_after / 1024, 1),
                "kib_per_idle_socket": round(
                    (rss_after - rss_before) / max(1, len(new)), 1
                ),
                **asdict(load),
                # Server CPU for the whole step (load and draining), per message.
                "server_cpu_ms_per_message": round(
                    cpu_used * 1000 / max(1, load.sent), 2
                ),
                "rest_of_machine_cpu_pct": round(rest * 100 / step_seconds),
                "delivery_rate": round(load.delivered / load.sent, 5)
                if load.sent
                else 0,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    for ws in active_sockets + idle_sockets:
        await ws.close()
    return rows


async def measure_churn(
    target: Target, pid: int, fixtures: Fixtures, cycles: int
) -> dict:
    """
    `cycles` times: one person's badge socket and one conversation socket
    open, then close (16 at a time, each cycle another person). Measured
    after `CHURN_WARM_UP` cycles and at the end: the groups Redis holds subscriptions
    for under this site's prefix, and the server's RSS.
    """
    from django.conf import settings
    from redis.asyncio import Redis

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    redis = Redis.from_url(os.environ["REDIS_URL"])

    async def group_subscriptions() -> int:
        return len(await redis.pubsub_channels(f"{prefix}__group__*"))

    async def cycle(n: int) -> None:
        pair = fixtures.pairs[n % len(fixtures.pairs)]
        specs = [
            (target.idle_url(n), target.headers(fixtures.idle_sessions[n])),
            (target.active_url(pair, 0), target.headers(pair[2])),
        ]
        sockets, failures = await connect_many(target, specs)
        if failures:
            sys.exit(f"churn: {failures} sockets failed to connect.")
        for ws in sockets:
            await ws.close()

    async def cycles_of(numbers) -> float:
        gate = asyncio.Semaphore(16)

        async def gated(n):
            async with gate:
                await cycle(n)

        began = time.monotonic()
        await asyncio.gather(*(gated(n) for n in numbers))
        return time.monotonic() - began

    await cycles_of(range(cycles, cycles + CHURN_WARM_UP))
    await asyncio.sleep(2)
    groups_start, rss_start = await group_subscriptions(), rss_kib(pid)
    seconds = 0.0
    rss_steps = []
    for start in range(0, cycles, CHURN_STEP):
        seconds += await cycles_of(range(start, min(cycles, start + CHURN_STEP)))
        rss_steps.append(round(rss_kib(pid) / 1024, 1))
    # The server leaves the groups as each close reaches it.
    await asyncio.sleep(2)
    groups_end, rss_end = await group_subscriptions(), rss_kib(pid)
    await redis.aclose()
    row = {
        "server": target.name,
        "cycles": cycles,
        "sockets_opened_and_closed": 2 * cycles,
        "cycles_per_s": round(cycles / seconds, 1),
        "group_subscriptions_start": groups_start,
        "group_subscriptions_end": groups_end,
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "rss_growth_kib_per_cycle": round((rss_end - rss_start) / cycles, 2),
        f"rss_mib_every_{CHURN_STEP}_cycles": rss_steps,
    }
    print(json.dumps(row), flush=True)
    return row


def churn_markdown(row: dict) -> str:
    return (
        "| server | cycles | group subscriptions before | after "
        "| RSS before MiB | after | KiB per cycle |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        f"| {row['server']} | {row['cycles']:,} | "
        f"{row['group_subscriptions_start']} | {row['group_subscriptions_end']} | "
        f"{row['rss_start_mib']} | {row['rss_end_mib']} | "
        f"{row['rss_growth_kib_per_cycle']} |\n"
    )


def run_churn(cycles: int, secret_key: str) -> int:
    fixtures = make_fixtures(cycles + CHURN_WARM_UP)
    try:
        [(process, port)] = start_daphnes(LAYERS["redis-pubsub"], secret_key, 1)
        try:
            row = asyncio.run(
                measure_churn(
                    ProjectTarget("daphne + redis-pubsub", [port]),
                    process.pid,
                    fixtures,
                    cycles,
                )
            )
        finally:
            stop(process)
    finally:
        drop_fixtures(fixtures)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chat-churn.json").write_text(json.dumps(row, indent=2) + "\n")
    print()
    print(churn_markdown(row))
    return 0


# --- Servers -------------------------------------------------------------------


def start_daphnes(
    layer: str, secret_key: str, count: int
) -> list[tuple[subprocess.Popen, int]]:
    """`count` daphne processes, each on its own port, sharing the Redis groups."""
    servers = []
    try:
        for _ in range(count):
            servers.append(start_daphne(layer, secret_key))
    except BaseException:
        for process, _port in servers:
            stop(process)
        raise
    return servers


def start_daphne(layer: str, secret_key: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nobroker.settings",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_DEBUG": "",
        "DJANGO_TESTING": "",
        "LOCAL_HTTP": "1",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{port}",
        "CHANNEL_LAYER_BACKEND": layer,
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("daphne")),
            "-v",
            "0",
            "-b",
            HOST,
            "-p",
            str(port),
            "nobroker.asgi:application",
        ],
        env=env,
        cwd=ROOT,
    )
    wait_for_http(f"http://{HOST}:{port}/healthz", process)
    return process, port


def start_relay() -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.chat", "--relay", str(port)], cwd=ROOT
    )
    wait_for_port(port, process)
    return process, port


async def relay_server(port: int) -> None:
    """A bare `websockets` server forwarding each text to the other side of a pair."""
    from websockets.asyncio.server import serve

    peers: dict[tuple[str, str], object] = {}

    async def handler(ws):
        parts = ws.request.path.strip("/").split("/")
        if parts[0] == "pair":
            key = (parts[1], parts[2])
            other = (parts[1], "1" if parts[2] == "0" else "0")
            peers[key] = ws
            try:
                async for text in ws:
                    peer = peers.get(other)
                    if peer is not None:
                        await peer.send(text)
                    await ws.send(text)
            finally:
                peers.pop(key, None)
        else:
            await ws.wait_closed()

    async with serve(handler, HOST, port, ping_interval=None, max_queue=None):
        await asyncio.Future()


# --- Report --------------------------------------------------------------------


def markdown(rows: list[dict]) -> str:
    lines = [
        "| server | sockets | sent | delivered | p50 ms | p95 ms | p99 ms "
        "| msg/s | server CPU ms/msg | rest of machine CPU % "
        "| KiB per idle socket | server RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['sockets']:,} | {r['sent']:,} | "
            f"{r['delivery_rate'] * 100:.2f} % | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} | {r['achieved_rate']} | "
            f"{r['server_cpu_ms_per_message']} | "
            f"{r.get('rest_of_machine_cpu_pct', '')} | {r['kib_per_idle_socket']} | "
            f"{r['rss_mib']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    global SOCKET_COUNTS, DURATION, RATE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relay", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--layers",
        default=DEFAULT_LAYERS,
        help=f"comma-separated channel layers of {', '.join(LAYERS)} "
        f"(default: {DEFAULT_LAYERS})",
    )
    parser.add_argument(
        "--sockets",
        default=",".join(str(n) for n in SOCKET_COUNTS),
        help="comma-separated socket counts, in increasing order (default: 1000,5000)",
    )
    parser.add_argument(
        "--seconds", type=float, default=DURATION, help="seconds of load per step"
    )
    parser.add_argument(
        "--rate", type=float, default=RATE, help="messages per second, all pairs"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=PROCESSES,
        help="then measure the Redis pub/sub layer again with this many daphne "
        f"processes, sockets spread over them (default: {PROCESSES}; 1 skips it)",
    )
    parser.add_argument("--no-relay", action="store_true", help="skip the bare relay")
    parser.add_argument(
        "--churn",
        type=int,
        metavar="N",
        help="instead: open and close a badge and a conversation socket N times "
        "and compare the layer's group subscriptions and the server's memory",
    )
    args = parser.parse_args(argv)
    SOCKET_COUNTS = tuple(int(n) for n in args.sockets.split(","))
    DURATION = args.seconds
    RATE = args.rate
    if args.relay:
        raise_open_file_limit(max(SOCKET_COUNTS) + 500)
        asyncio.run(relay_server(args.relay))
        return 0
    layers = args.layers.split(",")
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        parser.error(f"unknown layer(s): {', '.join(unknown)}")
    servers = [(name, 1) for name in layers]
    if args.processes > 1 and "redis-pubsub" in layers:
        servers.append(("redis-pubsub", args.processes))

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark needs it.")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the benchmark measures the Redis channel layers.")
    raise_open_file_limit(max(SOCKET_COUNTS) + 500)
    secret_key = secrets.token_urlsafe(50)
    os.environ["DJANGO_SECRET_KEY"] = secret_key
    os.environ["DJANGO_SETTINGS_MODULE"] = "nobroker.settings"
    os.environ["LOCAL_HTTP"] = "1"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    if args.churn:
        return run_churn(args.churn, secret_key)
    began = time.monotonic()
    fixtures = make_fixtures(max(SOCKET_COUNTS) - 2 * PAIRS)
    print(f"Made {len(fixtures.session_keys):,} users and sessions.", flush=True)
    rows = []
    try:
        for name, count in servers:
            started = start_daphnes(LAYERS[name], secret_key, count)
            label = f"daphne + {name}" if count == 1 else f"{count} daphnes + {name}"
            try:
                rows += asyncio.run(
                    measure_server(
                        ProjectTarget(label, [port for _p, port in started]),
                        [process.pid for process, _port in started],
                        fixtures,
                    )
                )
            finally:
                for process, _port in started:
                    stop(process)
        if not args.no_relay:
            process, port = start_relay()
            try:
                rows += asyncio.run(
                    measure_server(
                        RelayTarget("bare websockets relay", [port]),
                        [process.pid],
                        fixtures,
                    )
                )
            finally:
                stop(process)
    finally:
        drop_fixtures(fixtures)

    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "pairs": PAIRS,
        "rate_per_s": RATE,
        "seconds_per_step": DURATION,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "total_seconds": round(time.monotonic() - began, 1),
        "rows": rows,
    }
    (RESULTS / "chat.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(rows)
    (RESULTS / "chat.md").write_text(table)
    print()
    print(table)
    print(f"Done in {result['total_seconds']} s; results in bench/results/chat.json.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
