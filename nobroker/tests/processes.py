"""
Throwaway servers for tests of the production layout: PostgreSQL clusters
(a primary and its streaming replica), and the site's own processes.

Everything binds 127.0.0.1 on a free port and lives in a temporary folder;
the shared PostgreSQL and Redis are never touched.
"""

import contextlib
import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PORTS = range(9700, 9800)


def free_ports(count: int) -> list[int]:
    """Free loopback ports, from the range kept for these tests when possible."""
    held, ports = [], []
    # In a random order: two test runs at once rarely reach for the same port.
    candidates = random.sample(list(PORTS), len(PORTS))
    try:
        for port in (*candidates, *[0] * count):
            if len(ports) == count:
                break
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in held:
            sock.close()
    return ports


def free_port() -> int:
    return free_ports(1)[0]


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        pytest.skip(f"PostgreSQL server binaries ({name}) are not installed")
    return path


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: run its tools as the postgres user."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)  # noqa: S603
    if result.returncode:
        raise subprocess.CalledProcessError(
            result.returncode, args, result.stdout, result.stderr
        ) from RuntimeError(result.stderr[-2000:])
    return result


class Cluster:
    """One PostgreSQL server in its own folder, trusting loopback connections."""

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.port = port

    def url(self, database: str = "postgres") -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{database}"

    @classmethod
    def primary(cls, directory: Path) -> "Cluster":
        directory.mkdir(parents=True)
        _chown(directory)
        cluster = cls(directory, free_port())
        _as_postgres(
            [postgres_bin("initdb"), "-D", str(cluster.data), "-U", "root"]
            + ["--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
        )
        with open(cluster.data / "postgresql.conf", "a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\nmax_connections = 60\n"
            )
        with open(cluster.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        cluster.start()
        return cluster

    def replica(self, directory: Path) -> "Cluster":
        """A streaming replica of this cluster, made with pg_basebackup."""
        directory.mkdir(parents=True)
        _chown(directory)
        replica = Cluster(directory, free_port())
        _as_postgres(
            [postgres_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port)]
            + [
                "-U",
                "root",
                "-D",
                str(replica.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ]
        )
        replica.start()
        return replica

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def start(self) -> None:
        _as_postgres(
            [postgres_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60"]
            + ["-l", str(self.directory / "server.log"), "start"]
            + [
                "-o",
                f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(
            [postgres_bin("pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop"]
        )

    def sql(self, statement: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603
            [shutil.which("psql") or "psql", "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-U", "root", "-d", database, "-tAXqc", statement],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def scratch_folder() -> Path:
    """
    A folder of its own in the system's temporary folder, which the postgres
    user can enter (pytest's own folders are private to the user running it).
    """
    folder = Path(tempfile.mkdtemp(prefix="nb-layout-"))
    folder.chmod(0o711)
    return folder


def _chown(directory: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")


def site_environment(**variables: str) -> dict[str, str]:
    """
    The site's settings on loopback plain HTTP, as the test servers run them
    (static files from the app folders, no collectstatic needed).
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "PYTEST"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="nobroker.settings",
        DJANGO_SECRET_KEY="test-secret-key-for-a-throwaway-server-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_TESTING="1",
        LOCAL_HTTP="1",
        TASKS_BACKEND="immediate",
    )
    env.update(variables)
    return env


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


class Server:
    """A site process (daphne or gunicorn) on a loopback port."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log: Path):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(  # noqa: S603
                args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(f"{self.url}/healthz", self.process, log)

    @classmethod
    def daphne(cls, env: dict[str, str], log: Path) -> "Server":
        port = free_port()
        daphne = str(Path(sys.executable).with_name("daphne"))
        return cls(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "nobroker.asgi:application"],
            env,
            port,
            log,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{url} did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


class Visitor:
    """A person's browser without JavaScript: cookies, CSRF tokens, forms."""

    def __init__(self, base_url: str):
        import http.cookiejar

        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base_url + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        """Posts the form at `path` with its CSRF token, following the redirect."""
        import re
        from urllib.parse import urlencode

        status, page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no form on {path} ({status})"
        body = urlencode({"csrfmiddlewaretoken": token.group(1), **data}).encode()
        request = urllib.request.Request(  # noqa: S310 (the test's own server)
            self.base_url + path, data=body, headers={"Referer": self.base_url + path}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def log_in(self, email: str, password: str) -> None:
        status, page = self.post(
            "/accounts/login/", {"username": email, "password": password}
        )
        assert status == 200 and "Log out" in page, page[-2000:]

    def forget(self, name: str) -> None:
        for cookie in list(self.cookies):
            if cookie.name == name:
                self.cookies.clear(cookie.domain, cookie.path, cookie.name)


class PgBouncer:
    """Debian's pgbouncer in transaction mode in front of one cluster."""

    def __init__(self, directory: Path, cluster: Cluster):
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.path.exists(binary):
            pytest.skip("pgbouncer is not installed (Debian package pgbouncer)")
        directory.mkdir(parents=True)
        _chown(directory)
        self.port = free_port()
        config = directory / "pgbouncer.ini"
        (directory / "users.txt").write_text('"root" ""\n')
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {directory}\n"
            "auth_type = trust\n"
            f"auth_file = {directory / 'users.txt'}\n"
            "pool_mode = transaction\ndefault_pool_size = 5\nmax_client_conn = 200\n"
            f"logfile = {directory / 'pgbouncer.log'}\n"
            f"pidfile = {directory / 'pgbouncer.pid'}\n"
        )
        self.log = directory / "pgbouncer.log"
        self.pidfile = directory / "pgbouncer.pid"
        _as_postgres([binary, "-d", str(config)])
        deadline = time.monotonic() + 10
        while not self.pidfile.exists():
            assert time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(self.pidfile.read_text().strip()), 15)
